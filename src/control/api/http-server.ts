// The HTTP edge of the control plane: strict parsing (Node's lenient parser is
// never enabled), token resolution, routing, body limits and the one mapping
// from errors to Consul-style answers (status + plain-text reason, the hint in
// a header: src/lib/http/error-hint.ts). A handler that throws something
// unexpected gets a 500; the process never dies of input.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { MeshError, isMeshError } from '../../lib/errors.ts';
import { ERROR_CODE_HEADER, ERROR_HINT_HEADER, encodeHint } from '../../lib/http/error-hint.ts';
import { authorize, type Permission, type TokenIdentity } from '../acl/policy.ts';
import type { Handler, Reply, RequestContext } from './context.ts';
import { methodNotAllowed, type Router } from './router.ts';

/** Bodies other than KV values; Consul has no documented limit, this bounds memory. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface HttpApiOptions {
  router: Router<Handler>;
  aclsEnabled: boolean;
  resolveToken: (secret: string) => TokenIdentity | undefined;
  onError?: (error: unknown, req: IncomingMessage) => void;
}

const HTTP_OPTIONS = {
  insecureHTTPParser: false,
  requireHostHeader: true,
  maxHeaderSize: 16 * 1024,
  // Blocking queries hold responses for up to ~11 minutes; this only bounds receiving the request.
  requestTimeout: 60_000,
  headersTimeout: 30_000,
};

export function createApiServer(options: HttpApiOptions): Server {
  const server = createServer(HTTP_OPTIONS, (req, res) => {
    handle(options, req, res).catch((error) => options.onError?.(error, req));
  });
  // Idle keep-alive sockets close after 65 s, longer than clients' usual 60 s pools.
  server.keepAliveTimeout = 65_000;
  return server;
}

export interface TlsApiOptions {
  /** The server's key, certificate chain and the mesh roots (which verify client certificates). */
  credentials: SecureContextOptions;
  /** The mesh service a verified client certificate names, if any. */
  peerServiceOf: (socket: TLSSocket) => string | undefined;
}

/**
 * The same API over TLS, for other hosts. A client certificate is asked for
 * but not required: agents present a service leaf (it lets them renew it
 * even when their token is gone), tools and Consul clients present none.
 */
export function createTlsApiServer(options: HttpApiOptions, tls: TlsApiOptions): HttpsServer {
  const server = createHttpsServer({ ...HTTP_OPTIONS, ...tls.credentials, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const peerService = socket.authorized ? tls.peerServiceOf(socket) : undefined;
    handle(options, req, res, peerService).catch((error) => options.onError?.(error, req));
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

/** Where a token comes from, in Consul's order: header, bearer, then ?token=. */
export function tokenOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const param = query.get('token');
  return param === null || param === '' ? undefined : param;
}

async function handle(options: HttpApiOptions, req: IncomingMessage, res: ServerResponse, peerService?: string): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return send(res, req, { status: 400, raw: 'Invalid request URL\n' }, options.aclsEnabled);
  }
  try {
    const method = req.method ?? 'GET';
    const identity = resolveIdentity(options, req, url.searchParams);
    const match = options.router.match(method, url.pathname);
    if (!match) throw new MeshError('MESH_E_NOT_FOUND', `no such API path: ${url.pathname}`);
    if ('allowed' in match) throw methodNotAllowed(method, match.allowed);
    const can = (permission: Permission): boolean => !options.aclsEnabled || authorize(identity, permission).allowed;
    const ctx: RequestContext = {
      req,
      method,
      path: url.pathname,
      query: url.searchParams,
      params: match.params,
      identity,
      peerService,
      signal: abort.signal,
      body: (limit = DEFAULT_BODY_LIMIT) => readBody(req, limit),
      can,
      require(permission) {
        if (!options.aclsEnabled) return;
        const decision = authorize(identity, permission);
        if (!decision.allowed) throw new MeshError('MESH_E_PERMISSION_DENIED', decision.reason, { hint: decision.hint });
      },
    };
    const reply = await match.handler(ctx);
    if (reply.stream) return await stream(res, reply, options.aclsEnabled);
    send(res, req, reply, options.aclsEnabled, url.searchParams.has('pretty'));
  } catch (error) {
    if (!isMeshError(error)) options.onError?.(error, req);
    const mesh = isMeshError(error) ? error : new MeshError('MESH_E_INTERNAL', 'internal error', { cause: error });
    // A 413 is answered before the whole body is read: close, don't drain it.
    if (mesh.code === 'MESH_E_BODY_TOO_LARGE') res.setHeader('Connection', 'close');
    send(res, req, {
      status: mesh.status,
      raw: `${mesh.message}\n`,
      headers: {
        [ERROR_CODE_HEADER]: mesh.code,
        ...(mesh.hint ? { [ERROR_HINT_HEADER]: encodeHint(mesh.hint) } : {}),
        ...(mesh.status === 403 || mesh.status === 404 ? { 'X-Consul-Index': 1 } : {}),
      },
    }, options.aclsEnabled);
  }
}

function resolveIdentity(options: HttpApiOptions, req: IncomingMessage, query: URLSearchParams): TokenIdentity | undefined {
  const secret = tokenOf(req, query);
  if (secret === undefined || !options.aclsEnabled) return undefined;
  const identity = options.resolveToken(secret);
  if (!identity) throw new MeshError('MESH_E_ACL_NOT_FOUND', 'ACL not found');
  return identity;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(declared, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tooLarge(size: number, limit: number): MeshError {
  return new MeshError('MESH_E_BODY_TOO_LARGE', `Request body(${size} bytes) too large, max size: ${limit} bytes`);
}

/** A streamed body: no Content-Length (chunked), headers sent before the first line so the client knows it is live. */
async function stream(res: ServerResponse, reply: Reply, aclsEnabled: boolean): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(reply.status ?? 200, { ...reply.headers, 'Content-Type': reply.contentType ?? 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Consul-Default-ACL-Policy': aclsEnabled ? 'deny' : 'allow' });
  res.flushHeaders();
  await reply.stream?.(res);
}

function send(res: ServerResponse, req: IncomingMessage, reply: Reply, aclsEnabled: boolean, pretty = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...reply.headers };
  let body: string | Buffer;
  if (reply.raw !== undefined) {
    body = reply.raw;
    headers['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
  } else {
    body = reply.json === undefined ? '' : JSON.stringify(reply.json, null, pretty ? 4 : undefined);
    if (reply.json !== undefined) headers['Content-Type'] = 'application/json';
  }
  headers['Content-Length'] = Buffer.byteLength(body);
  headers['X-Consul-Default-ACL-Policy'] = aclsEnabled ? 'deny' : 'allow';
  res.writeHead(reply.status ?? 200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
