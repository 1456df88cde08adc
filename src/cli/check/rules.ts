// Are transparent mode's rules installed? Pure, over what `meshctl iptables
// show` reads: the IPv4 nat table must hold meshctl's chains (IPv6 is
// redirected or refused, either way in a table of its own).

import type { ShownTable } from '../../iptables/apply.ts';
import { failed, passed, type Verdict } from './result.ts';

export function evaluateRules(shown: readonly ShownTable[]): Verdict {
  const v4nat = shown.find((t) => t.family === 4 && t.table === 'nat');
  const rules = (t: ShownTable) => t.lines.filter((l) => l.startsWith('-A ')).length;
  if (!v4nat || rules(v4nat) === 0) {
    return failed("the agent joined with --transparent but meshctl's IPv4 nat rules are missing: apps bypass the proxy", 'restart the agent, which re-applies them at start (systemctl restart meshctl-agent), or run meshctl join --transparent again');
  }
  return passed(shown.map((t) => `IPv${t.family} ${t.table}: ${rules(t)} rules`).join(', '));
}
