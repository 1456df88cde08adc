// Tap's API. Operators: GET /v1/mesh/tap?service=NAME[&path_prefix=/p]
// [&method=GET][&limit=N] streams NDJSON lines until the client goes or N
// events were sent. Agents: GET /v1/mesh/tap/sessions?node=N&index=I (a
// blocking read of the open sessions' filters) and POST /v1/mesh/tap/events
// (their sampled events), each with the agent's own token.
//
// Tap shows request paths and request ids, which a read-only token (a
// dashboard's, Prometheus's) should not see: it takes write on the tapped
// service, which a management token has, and so does the agent token that
// registers the service (whose host sees that traffic anyway). One token
// holds at most TAP_MAX_SESSIONS_PER_TOKEN sessions, and only management
// tokens may take the last few slots. An agent lists the sessions only when
// its node runs a service, and its events count only for traffic its own
// proxies see: inbound to a service the catalog has on its node, outbound
// from one. Only services whose protocol is http, http2 or grpc can be
// tapped (service-defaults; tcp is the default).

import { MeshError, badRequest } from '../../../lib/errors.ts';
import { parseCount } from '../../../lib/count.ts';
import { parseTapFilter, TAP_MAX_LIMIT, TAP_MAX_SESSIONS, type TapBatch } from '../../../config/tap.ts';
import { isMeshInternalService } from '../../../config/agent-service.ts';
import { withServiceDefaults, type StoredServiceDefaults } from '../../../config/service-defaults.ts';
import { topics } from '../../catalog/keys.ts';
import type { Store } from '../../store/store.ts';
import { servicesOfNode } from '../../telemetry/node-scope.ts';
import type { TapHub } from '../../telemetry/tap-hub.ts';
import { TapStream } from '../../telemetry/tap-stream.ts';
import { indexHeaders, jitteredWait, parseBlockingParams } from '../blocking.ts';
import type { Handler } from '../context.ts';
import { CONFIG_PREFIX } from './config.ts';
import type { ConfigEntry } from './config-kind.ts';
import { requireKnownService } from './known-service.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

/** A batch holds at most ~200 events per session; this bounds what one post may cost. */
const EVENTS_BODY_LIMIT = 2 * 1024 * 1024;

export function addTapRoutes(router: Router<Handler>, deps: ApiDeps, hub: TapHub): void {
  router.add('GET', '/v1/mesh/tap', (ctx) => {
    const parsed = parseTapFilter({ service: ctx.query.get('service'), pathPrefix: ctx.query.get('path_prefix'), method: ctx.query.get('method') });
    if ('errors' in parsed) throw badRequest(`Invalid tap filter: ${parsed.errors.join('; ')}`);
    const { filter } = parsed;
    ctx.require({ resource: 'service', access: 'write', name: filter.service });
    const limit = parseLimit(ctx.query.get('limit'));
    requireKnownService(deps.store, filter.service);
    requireHttpService(deps.store, filter.service);
    let resolveDone = () => {};
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const stream = new TapStream({ limit, onDone: () => resolveDone() });
    // Opened before the answer starts, so that a full server answers 429 rather than an empty stream.
    const session = hub.open(filter, stream, { token: ctx.identity?.accessorId ?? '', management: ctx.identity === undefined || ctx.identity.policy === 'management' });
    const end = () => {
      hub.close(session.id);
      resolveDone();
    };
    ctx.signal.addEventListener('abort', end, { once: true });
    return {
      headers: { 'X-Mesh-Tap-Session': session.id },
      contentType: 'application/x-ndjson',
      stream: async (res) => {
        // A client whose host vanished (no FIN) is found by keep-alive probes rather than never.
        res.socket?.setKeepAlive(true, 30_000);
        stream.attach(res);
        await done;
        end();
        res.end();
      },
    };
  });

  router.add('GET', '/v1/mesh/tap/sessions', async (ctx) => {
    const node = ctx.query.get('node') ?? '';
    if (node === '') throw badRequest('Missing node: give ?node=NAME, the node the agent registers');
    ctx.require({ resource: 'node', access: 'write', name: node });
    const { index, waitMs } = parseBlockingParams(ctx.query);
    const hosted = () => mesh(servicesOfNode(deps.store, node));
    await waitForSessionsChange(hub, deps.store, node, index, jitteredWait(waitMs, deps.random), () => hosted().size > 0, ctx.signal);
    const now = hosted();
    return { json: { sessions: hub.list(now) }, headers: indexHeaders(sessionsIndex(hub.index, now.size > 0)) };
  });

  router.add('POST', '/v1/mesh/tap/events', async (ctx) => {
    let batch: TapBatch;
    try {
      batch = JSON.parse((await ctx.body(EVENTS_BODY_LIMIT)).toString('utf8')) as TapBatch;
    } catch (error) {
      if (error instanceof MeshError) throw error;
      throw badRequest('Invalid tap events: the body is not JSON');
    }
    if (typeof batch?.node !== 'string' || batch.node === '' || !Array.isArray(batch.sessions) || batch.sessions.length > TAP_MAX_SESSIONS * 4) {
      throw badRequest('Invalid tap events: give {"node": NAME, "sessions": [{"id", "events": [...], "dropped"}]}');
    }
    ctx.require({ resource: 'node', access: 'write', name: batch.node });
    hub.deliver(batch.node, servicesOfNode(deps.store, batch.node), batch.sessions.filter((s) => typeof s === 'object' && s !== null && typeof s.id === 'string'));
    return { json: {} };
  });
}

/**
 * A node's list depends on the hub's sessions and on whether the node runs a
 * service, so its index carries both: the hub's index, doubled, plus one when
 * the node hosts something. A node that registers its first service (or
 * drops its last) while its agent waits is answered then, not at the next
 * session change; an agent that asks with an index from before such a change
 * is answered at once.
 */
const sessionsIndex = (hubIndex: number, hosting: boolean): number => hubIndex * 2 + (hosting ? 1 : 0);

async function waitForSessionsChange(hub: TapHub, store: Store, node: string, index: number, waitMs: number, hosting: () => boolean, signal: AbortSignal): Promise<void> {
  if (index !== sessionsIndex(hub.index, hosting())) return;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const sessionsChanged = hub.waitForChange(hub.index, waitMs, stop.signal).then(() => false);
    const spec = { exact: [topics.node(node)] };
    // The node's topic moves on every check of its own too: wait on until what it hosts changes.
    for (;;) {
      const changed = await Promise.race([sessionsChanged, store.waitForChange(spec, store.topicIndex(spec), waitMs, stop.signal)]);
      if (!changed || index !== sessionsIndex(hub.index, hosting())) return;
    }
  } finally {
    stop.abort();
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The proxies tap only what they parse (HTTP/1.1, HTTP/2, gRPC): a tcp
 * service's tap would wait forever showing nothing, so it is refused at once.
 */
function requireHttpService(store: Store, service: string): void {
  const stored = store.get<ConfigEntry>(`${CONFIG_PREFIX}service-defaults/${service}`)?.value.Config as StoredServiceDefaults | undefined;
  if (withServiceDefaults(stored).protocol !== 'tcp') return;
  throw new MeshError('MESH_E_BAD_REQUEST', `${service} is a tcp service: tap shows HTTP, HTTP/2 and gRPC requests; its connections are in meshctl stat and the access log`, {
    hint: `if ${service} speaks HTTP, set its protocol: meshctl config set service-defaults ${service} protocol=http|http2|grpc`,
  });
}

/** The node's mesh services: the agents' own metrics entry carries no traffic to tap. */
const mesh = (services: ReadonlySet<string>): ReadonlySet<string> => new Set([...services].filter((s) => !isMeshInternalService(s)));

function parseLimit(text: string | null): number {
  if (text === null || text === '') return 0;
  const limit = parseCount(text, { min: 1, max: TAP_MAX_LIMIT });
  if (limit === undefined) throw badRequest(`Invalid limit "${text}": give a whole number from 1 to ${TAP_MAX_LIMIT}, or none to stream until you stop`);
  return limit;
}
