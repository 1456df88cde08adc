// The destination a redirected connection was headed for, from the kernel
// (getsockopt SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST) through the one native
// addon, native/original-dst.c, built into build/ by `npm run build`. src/ and
// dist/ both sit two levels below the package root, so one path serves both.

import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { MeshError } from '../lib/errors.ts';

export interface OriginalDestination {
  address: string;
  port: number;
  family: 4 | 6;
}

interface Addon {
  originalDst(fd: number): OriginalDestination;
}

let addon: Addon | undefined;

function load(): Addon {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)('../../build/original-dst.node') as Addon;
    } catch (error) {
      throw new MeshError('MESH_E_INTERNAL', `the SO_ORIGINAL_DST addon is not built (${(error as Error).message})`, { hint: 'run npm run build (it needs a C compiler: apt-get install gcc libc6-dev)' });
    }
  }
  return addon;
}

/** Whether the addon can be loaded here (transparent mode needs it). */
export function originalDstAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `socket` was going before iptables redirected it; undefined when it
 * was not redirected (a connection made to the listener's own address).
 */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    const found = load().originalDst(fd);
    // Conntrack tracks every connection: one made to the listener itself reports the listener's own address.
    return found.port === socket.localPort && found.address === socket.localAddress?.replace(/^::ffff:/, '') ? undefined : found;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
