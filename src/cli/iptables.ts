// `meshctl iptables plan|apply|show|remove`: transparent proxying's rules.
// Parsing and printing only; src/iptables builds, applies and removes.

import type { Command } from 'commander';
import { MeshError } from '../lib/errors.ts';
import { NO_PORT, splitHostPort } from '../lib/net/host-port.ts';
import { DEFAULT_PROXY_USER, type TransparentConfig } from '../iptables/config.ts';
import { buildRefuseIpv6, buildRules, resolveTransparentConfig } from '../iptables/rules.ts';
import { applyRules, detectBackend, removeRules, showRules } from '../iptables/apply.ts';
import { ensureProxyUser, lookupUser } from '../iptables/proxy-user.ts';
import { printJson } from './output.ts';

interface RuleFlags {
  proxyUid?: string;
  proxyUser?: string;
  inboundPort: string[];
  excludeInboundPort: string[];
  excludeOutboundPort: string[];
  excludeOutboundCidr: string[];
  excludeOutboundDestination: string[];
  redirectDns?: boolean;
  json?: boolean;
}

/** Repeatable, and each value may be a comma-separated list. */
const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter((v) => v !== '')];

const EXAMPLES = `
Examples:
  meshctl iptables plan --inbound-port 8080
  sudo meshctl iptables apply --inbound-port 8080 --redirect-dns --exclude-outbound-cidr 169.254.169.254
  meshctl iptables show
  sudo meshctl iptables remove

The proxy's user (--proxy-user, default ${DEFAULT_PROXY_USER}, or --proxy-uid) is never redirected:
run the agent as that user and no application. 22 and the agent's ports (15000, 15001, 15006,
15053, 15090) are never redirected inbound.`;

function withRuleFlags(command: Command): Command {
  return command
    .option('--proxy-uid <uid>', "the uid the agent and proxy run as (instead of --proxy-user)")
    .option('--proxy-user <name>', `the user the agent and proxy run as (apply creates it when missing; default ${DEFAULT_PROXY_USER})`)
    .option('--inbound-port <port>', 'a meshed service port on this host; its inbound TCP goes to the proxy (repeatable)', collect, [])
    .option('--exclude-inbound-port <port>', 'an inbound port never redirected, besides 22 and the agent ports (repeatable)', collect, [])
    .option('--exclude-outbound-port <port>', 'an outbound TCP port that goes direct (repeatable)', collect, [])
    .option('--exclude-outbound-cidr <cidr>', 'an IPv4 or IPv6 range that outbound traffic reaches direct (repeatable)', collect, [])
    .option('--exclude-outbound-destination <addr:port>', 'one address and TCP port reached direct, such as the server\'s API (IPv6 as [addr]:port) (repeatable)', collect, [])
    .option('--redirect-dns', "send the host's DNS (port 53, UDP and TCP) to the agent's resolver on 15053")
    .addHelpText('after', EXAMPLES);
}

export function addIptablesCommands(program: Command): void {
  const iptables = program.command('iptables').description("transparent proxying's iptables rules: plan, apply, show, remove").addHelpText('after', EXAMPLES);

  withRuleFlags(iptables.command('plan').description('print the iptables-restore scripts apply would load (IPv4, IPv6, and the IPv6 refuse fallback); needs no root').option('--json', 'print JSON')).action(
    async (flags: RuleFlags) => {
      const config = configFrom(flags, await planUid(flags));
      const plan = { config, ipv4: buildRules(config, 4), ipv6: buildRules(config, 6), ipv6Refuse: buildRefuseIpv6(config) };
      if (flags.json) return printJson(plan);
      process.stdout.write(
        `# IPv4: iptables-restore --noflush\n${plan.ipv4}\n# IPv6: ip6tables-restore --noflush\n${plan.ipv6}\n` +
          `# IPv6 when ip6tables' nat table is unusable: meshed IPv6 is refused instead (ip6tables-restore --noflush)\n${plan.ipv6Refuse}`,
      );
    },
  );

  withRuleFlags(iptables.command('apply').description("replace meshctl's rules with these (root); other software's rules stay").option('--json', 'print JSON')).action(async (flags: RuleFlags) => {
    configFrom(flags, flags.proxyUid ?? 1); // every flag problem before any change to the host
    await detectBackend();
    const user = flags.proxyUid === undefined ? await ensureProxyUser(flags.proxyUser ?? DEFAULT_PROXY_USER) : undefined;
    const config = configFrom(flags, user?.uid ?? (flags.proxyUid as string));
    const result = await applyRules(config);
    if (flags.json) return printJson({ ...result, proxyUid: config.proxyUid, proxyUserCreated: user?.created ?? false });
    const out = process.stdout;
    if (user?.created) out.write(`created system user ${flags.proxyUser ?? DEFAULT_PROXY_USER} (uid ${user.uid}); run the agent as this user\n`);
    out.write(`applied (${result.backend} backend): IPv4 redirected; IPv6 ${result.ipv6 === 'redirect' ? 'redirected' : result.ipv6 === 'refuse' ? 'refused' : 'off'}${result.ipv6Reason ? ` (${result.ipv6Reason})` : ''}\n`);
    out.write(`traffic from uid ${config.proxyUid} goes direct; check with: meshctl iptables show\n`);
  });

  iptables
    .command('show')
    .description("meshctl's rules as installed (root), per family and table")
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { json?: boolean }) => {
      const shown = await showRules();
      if (flags.json) return printJson(shown);
      if (shown.length === 0) return void process.stdout.write('no meshctl rules are installed\n');
      for (const table of shown) process.stdout.write(`# IPv${table.family} ${table.table}\n${table.lines.join('\n')}\n`);
    });

  iptables
    .command('remove')
    .description('remove every rule and chain meshctl added (root); nothing else is touched')
    .addHelpText('after', EXAMPLES)
    .action(async () => {
      const { removed } = await removeRules();
      process.stdout.write(removed === 0 ? 'no meshctl rules were installed\n' : `removed ${removed} meshctl rules and chains\n`);
    });
}

function configFrom(flags: RuleFlags, proxyUid: number | string): TransparentConfig {
  if (flags.proxyUid !== undefined && flags.proxyUser !== undefined) {
    throw new MeshError('MESH_E_USAGE', '--proxy-uid and --proxy-user both given', { hint: 'give one of them' });
  }
  return resolveTransparentConfig({
    proxyUid,
    inboundPorts: flags.inboundPort,
    excludeInboundPorts: flags.excludeInboundPort,
    excludeOutboundPorts: flags.excludeOutboundPort,
    excludeOutboundCidrs: flags.excludeOutboundCidr,
    excludeOutboundDestinations: flags.excludeOutboundDestination.map(parseDestination),
    redirectDns: flags.redirectDns ?? false,
  });
}

/** ADDR:PORT or [ADDR]:PORT, split only: the address and port are checked with the rest of the config (iptables/config.ts). */
function parseDestination(text: string): { address: string; port: string } {
  const split = splitHostPort(text);
  if (!split.ok || split.value.port === undefined) {
    throw new MeshError('MESH_E_USAGE', `--exclude-outbound-destination "${text}" is not ADDR:PORT: ${split.ok ? NO_PORT : split.reason}`, { hint: 'give 10.0.0.1:8501, or [fd00::1]:8501 for IPv6' });
  }
  return { address: split.value.host, port: split.value.port };
}

/** plan changes nothing, so it looks the user up but never creates it. */
async function planUid(flags: RuleFlags): Promise<number | string> {
  if (flags.proxyUid !== undefined) return flags.proxyUid;
  const name = flags.proxyUser ?? DEFAULT_PROXY_USER;
  const user = await lookupUser(name);
  if (!user) throw new MeshError('MESH_E_USAGE', `user ${name} does not exist`, { hint: 'give --proxy-uid N, or run meshctl iptables apply, which creates it' });
  return user.uid;
}
