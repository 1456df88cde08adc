// The agent's line to the control plane, over the npm `consul` client.
// Its typed helpers (catalog.register and friends) drop fields meshctl needs
// (a service's Weights, a check's Output), so registration bodies go through
// the same client's request pipeline (_get/_put) with Consul's full shapes;
// the client still does the transport, the token, JSON and the errors.

import Consul from 'consul';
import { MeshError } from '../lib/errors.ts';
import { urlHostPort } from '../lib/net/host-port.ts';
import { ServerAgent, type ServerTlsSource } from './server-agent.ts';
import type { TapBatch, TapSession, TapSessionsBody } from '../config/tap.ts';
import type { TelemetryReport } from '../config/telemetry-report.ts';

export interface RawResult<T> {
  status: number;
  index: number;
  body: T;
}

interface PapiRequest {
  err?: Error & { statusCode?: number };
  res?: { statusCode: number; headers: Record<string, string | undefined>; body: unknown };
}
type Next = (stop: boolean, err?: Error, value?: unknown) => void;

const withResponse = (request: PapiRequest, next: Next) => {
  const res = request.res;
  if (request.err && !(res && res.statusCode === 404)) {
    // The server's plain-text reason says more than papi's generic message.
    const reason = typeof res?.body === 'string' && res.body.trim() ? res.body.trim() : Buffer.isBuffer(res?.body) ? res.body.toString('utf8').trim() : '';
    if (reason) request.err.message = reason;
    return next(false, request.err);
  }
  next(false, undefined, { status: res?.statusCode ?? 0, index: Number(res?.headers['x-consul-index'] ?? 0), body: res?.body });
};

interface ConsulTransport {
  _get(req: object, mw: typeof withResponse): Promise<unknown>;
  _put(req: object, mw: typeof withResponse): Promise<unknown>;
  _post(req: object, mw: typeof withResponse): Promise<unknown>;
}

export class ServerClient {
  readonly consul: Consul;
  private readonly transport: ConsulTransport;

  /** `tls` for an https server: where the roots and the client certificate come from. */
  constructor(serverUrl: string, token: string, tls?: ServerTlsSource) {
    const url = new URL(serverUrl);
    const secure = url.protocol === 'https:';
    const { host, port } = urlHostPort(url);
    this.consul = new Consul({
      host,
      port,
      secure,
      ...(secure && tls ? { agent: new ServerAgent(tls) } : {}),
      defaults: token ? { token } : {},
    });
    this.transport = this.consul as unknown as ConsulTransport;
  }

  private async call<T>(method: '_get' | '_put' | '_post', path: string, options: { body?: unknown; query?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; withoutToken?: boolean } = {}): Promise<RawResult<T>> {
    const token = options.withoutToken ? undefined : this.consulToken();
    const req: Record<string, unknown> = {
      name: `meshctl${path}`,
      path,
      query: options.query ?? {},
      headers: token ? { 'x-consul-token': token } : {},
      type: 'json',
      timeout: options.timeoutMs ?? 10_000,
    };
    if (options.body !== undefined) req.body = options.body;
    if (options.signal) {
      // papi aborts a request when its ctx emits 'cancel'.
      const { EventEmitter } = await import('node:events');
      const ctx = new EventEmitter();
      options.signal.addEventListener('abort', () => ctx.emit('cancel'), { once: true });
      req.ctx = ctx;
    }
    try {
      return (await this.transport[method](req, withResponse)) as RawResult<T>;
    } catch (error) {
      throw toMeshError(error as Error & { statusCode?: number; code?: string });
    }
  }

  private consulToken(): string | undefined {
    return (this.consul as unknown as { _defaults?: { token?: string } })._defaults?.token;
  }

  async register(body: unknown): Promise<void> {
    await this.call('_put', '/catalog/register', { body });
  }

  async deregister(body: { Node: string; ServiceID?: string; CheckID?: string }): Promise<void> {
    await this.call('_put', '/catalog/deregister', { body });
  }

  /** The node's catalog entry, or undefined when the catalog does not know it. */
  async node(node: string): Promise<{ Node: { Address: string }; Services: Record<string, CatalogNodeService> } | undefined> {
    const result = await this.call<{ Node: { Address: string }; Services: Record<string, CatalogNodeService> } | null>('_get', `/catalog/node/${encodeURIComponent(node)}`);
    return result.body ?? undefined;
  }

  async nodeChecks(node: string): Promise<Array<{ CheckID: string; Status: string; ServiceID: string }>> {
    return (await this.call<Array<{ CheckID: string; Status: string; ServiceID: string }>>('_get', `/health/node/${encodeURIComponent(node)}`)).body;
  }

  /** 'unknown-node' when the server has lost the node (a wiped catalog): re-register. */
  async heartbeat(node: string, ttlMs: number): Promise<'ok' | 'unknown-node'> {
    const result = await this.call('_put', `/mesh/heartbeat/${encodeURIComponent(node)}`, { query: { ttl: `${ttlMs}ms` } });
    return result.status === 404 ? 'unknown-node' : 'ok';
  }

  /** PUT /v1/mesh/telemetry: this node's traffic summary since the last accepted report. */
  async reportTelemetry(report: TelemetryReport): Promise<void> {
    await this.call('_put', '/mesh/telemetry', { body: report });
  }

  /** A blocking read: answers when the index passes `index` or wait runs out. */
  blockingGet<T>(path: string, index: number, waitMs: number, signal: AbortSignal): Promise<RawResult<T>> {
    return this.call<T>('_get', path, { query: { index: String(index), wait: `${waitMs}ms` }, timeoutMs: waitMs + waitMs / 16 + 5000, signal });
  }

  /** The CA's roots and trust domain. */
  async caRoots(): Promise<CaRoots> {
    const { body } = await this.call<RootsBody>('_get', '/connect/ca/roots');
    const self = await this.call<{ Config: { Datacenter: string } }>('_get', '/agent/self');
    return { ...rootsOf(body), datacenter: self.body.Config.Datacenter };
  }

  /** Waits for the roots to change past `index` (a rotation), or for `waitMs`. */
  async watchCaRoots(index: number, waitMs: number, signal: AbortSignal): Promise<{ index: number; roots: Omit<CaRoots, 'datacenter'> }> {
    const result = await this.blockingGet<RootsBody>('/connect/ca/roots', index, waitMs, signal);
    return { index: result.index, roots: rootsOf(result.body) };
  }

  /** A leaf for a CSR made on this host, with the certificates between it and its root. */
  async signCsr(csrPem: string): Promise<{ certPem: string; chainPem: string[]; rootId: string }> {
    type Signed = { CertPEM: string; ChainPEM?: string[]; RootID: string };
    let signed: Signed;
    try {
      signed = (await this.call<Signed>('_post', '/mesh/ca/sign', { body: { CSR: csrPem } })).body;
    } catch (error) {
      // A token that was revoked or lost its rights: the current leaf (presented on this TLS connection) still proves the identity.
      if (!(error instanceof MeshError) || (error.code !== 'MESH_E_PERMISSION_DENIED' && error.code !== 'MESH_E_ACL_NOT_FOUND')) throw error;
      signed = (await this.call<Signed>('_post', '/mesh/ca/sign', { body: { CSR: csrPem }, withoutToken: true })).body;
    }
    return { certPem: signed.CertPEM, chainPem: signed.ChainPEM ?? [], rootId: signed.RootID };
  }

  /** Tap: the active sessions, as a blocking read (answers as soon as one opens or ends). */
  async tapSessions(node: string, index: number, waitMs: number, signal: AbortSignal): Promise<{ index: number; sessions: TapSession[] }> {
    const result = await this.call<TapSessionsBody>('_get', '/mesh/tap/sessions', { query: { node, index: String(index), wait: `${waitMs}ms` }, timeoutMs: waitMs + waitMs / 16 + 5000, signal });
    return { index: result.index, sessions: result.body.sessions };
  }

  /** Tap: this host's sampled events for the active sessions. */
  async postTapEvents(batch: TapBatch): Promise<void> {
    await this.call('_post', '/mesh/tap/events', { body: batch, timeoutMs: 5000 });
  }

  close(): void {
    this.consul.destroy();
  }
}

export interface CaRoots {
  trustDomain: string;
  datacenter: string;
  rootsPem: string[];
  activeRootId: string;
}

interface RootsBody {
  TrustDomain: string;
  ActiveRootID: string;
  Roots: Array<{ RootCert: string }>;
}

const rootsOf = (body: RootsBody) => ({ trustDomain: body.TrustDomain, activeRootId: body.ActiveRootID, rootsPem: body.Roots.map((r) => r.RootCert) });

export interface CatalogNodeService {
  ID: string;
  Service: string;
  Port: number;
  Address: string;
  Tags: string[];
  Meta: Record<string, string>;
  Weights: { Passing: number; Warning: number };
}

function toMeshError(error: Error & { statusCode?: number; code?: string }): MeshError {
  if (error.statusCode === 403) {
    return new MeshError('MESH_E_PERMISSION_DENIED', `the server refused the agent's token: ${error.message}`, { hint: 'join again with a token whose policy covers this node and its services' });
  }
  if (error.statusCode !== undefined) return new MeshError('MESH_E_BAD_REQUEST', `the server answered ${error.statusCode}: ${error.message}`, { cause: error });
  return new MeshError('MESH_E_SERVER_UNREACHABLE', `cannot reach the server: ${error.code ?? error.message}`, { cause: error });
}
