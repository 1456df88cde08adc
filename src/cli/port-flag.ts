// Port flags as join reads them, shared with check so that the two accept the
// same values and refuse the others with the same words: a check that passes
// must not be followed by a join that refuses the flag.

import { MeshError } from '../lib/errors.ts';
import { listenAddrFlag } from './join-addr-flags.ts';

export interface PortRange {
  /** 0 for the listeners that may take any free port (the agent reports the one it got), 1 otherwise. */
  readonly min: 0 | 1;
}

const rangeText = (flag: string, { min }: PortRange) => (min === 0 ? `give ${flag} 0..65535 (0 picks a free port)` : `give ${flag} 1..65535`);

function portOf(text: string, range: PortRange): number | undefined {
  const n = Number(text);
  return /^\d+$/.test(text) && n >= range.min && n <= 65535 ? n : undefined;
}

/** A --*-port flag's value as a port, or a usage error naming the flag and the value given. */
export function parsePortFlag(text: string, flag: string, range: PortRange): number {
  const port = portOf(text, range);
  if (port === undefined) throw new MeshError('MESH_E_USAGE', `${flag} "${text}" is not a port`, { hint: rangeText(flag, range) });
  return port;
}

/** A --*-addr flag's HOST:PORT ([v6]:PORT), checked as join checks it (join-addr-flags.ts): split for check's probes. */
export function parseHostPortFlag(text: string, flag: string, example: string): { host: string; port: number } {
  const checked = listenAddrFlag(text, flag, example);
  const cut = checked.lastIndexOf(':');
  return { host: checked.slice(0, cut).replace(/^\[(.*)\]$/, '$1'), port: Number(checked.slice(cut + 1)) };
}
