// Are the ports the agent will listen on free? Probed by binding each one
// (and releasing it at once): a listener anywhere on the port makes the
// bind fail, which is what the agent would meet. Run only when no agent is
// running here, since a running agent holds them itself.

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { failed, passed, warned, type Verdict } from './result.ts';

export interface PortWanted {
  readonly host: string;
  readonly port: number;
  readonly what: string;
  /** join's flag that sets it, which the hint names when the port is taken. */
  readonly flag: string;
  readonly proto: 'tcp' | 'udp';
  /** The agent will listen there for sure; otherwise only in transparent mode. */
  readonly needed: boolean;
}

/** 'free', or why the port cannot be bound (EADDRINUSE, EACCES, ...). */
export type PortProbe = (host: string, port: number, proto: 'tcp' | 'udp') => Promise<'free' | string>;

export const probePort: PortProbe = (host, port, proto) =>
  new Promise((resolve) => {
    if (proto === 'udp') {
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.close();
        resolve(error.code ?? error.message);
      });
      socket.bind(port, host, () => socket.close(() => resolve('free')));
      return;
    }
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve('free')));
  });

export interface PortState extends PortWanted {
  readonly state: 'free' | string;
}

const describe = (p: PortState) => `${p.host}:${p.port}/${p.proto} (${p.what}): ${p.state === 'EADDRINUSE' ? 'in use' : p.state}`;

export function evaluatePorts(ports: readonly PortState[]): Verdict {
  const busy = ports.filter((p) => p.state !== 'free');
  const numbers = [...new Set(busy.map((p) => p.port))];
  const flags = [...new Set(busy.map((p) => p.flag))];
  const hint = `stop what listens there (ss -ltnup 'sport = :${numbers.length === 1 ? numbers[0] : 'PORT'}' names it), or give join another ${flags.join(', another ')}`;
  if (busy.some((p) => p.needed)) return failed(busy.map(describe).join('; '), hint);
  if (busy.length > 0) return warned(`${busy.map(describe).join('; ')}: needed only for join --transparent`, hint);
  return passed(ports.map((p) => `${p.port}/${p.proto}`).join(', '));
}

