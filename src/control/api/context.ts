// What an API handler receives, and what it returns.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Permission, TokenIdentity } from '../acl/policy.ts';
import type { Params } from './router.ts';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Params;
  /** The caller's token, resolved; undefined for anonymous. */
  readonly identity: TokenIdentity | undefined;
  /** On the TLS API: the mesh service of the client certificate the caller presented, when it verified. */
  readonly peerService: string | undefined;
  /** Aborted when the client goes away (a blocking query then stops waiting). */
  readonly signal: AbortSignal;
  /** Reads the whole body, refusing with 413 past limitBytes. */
  body(limitBytes?: number): Promise<Buffer>;
  /** Throws a 403 unless the caller holds the permission (always passes with ACLs off). */
  require(permission: Permission): void;
  /** Whether the caller holds the permission, for filtering lists. */
  can(permission: Permission): boolean;
}

export interface Reply {
  status?: number;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, with contentType. */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string | number>;
  /** A streamed answer (tap): the headers are sent at once, then this writes the body and resolves when it has ended it. */
  stream?: (res: ServerResponse) => Promise<void>;
}

export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;
