// Port flags as join reads them, shared with check so that the two accept the
// same values and refuse the others with the same words: a check that passes
// must not be followed by a join that refuses the flag.

import { MeshError } from '../lib/errors.ts';
import { parsePort } from '../lib/net/host-port.ts';

/** A --*-addr flag's HOST:PORT ([v6]:PORT), checked as join checks it (join-addr-flags.ts): split for check's probes. */
export { parseListenAddrFlag as parseHostPortFlag } from './join-addr-flags.ts';

interface PortRange {
  /** 0 for the listeners that may take any free port (the agent reports the one it got), 1 otherwise. */
  readonly min: 0 | 1;
}

const rangeText = (flag: string, { min }: PortRange) => (min === 0 ? `give ${flag} 0..65535 (0 picks a free port)` : `give ${flag} 1..65535`);

/** A --*-port flag's value as a port, or a usage error naming the flag and the value given. */
export function parsePortFlag(text: string, flag: string, range: PortRange): number {
  const port = parsePort(text, range.min);
  if (!port.ok) throw new MeshError('MESH_E_USAGE', `${flag} "${text}" is not a port`, { hint: rangeText(flag, range) });
  return port.value;
}

