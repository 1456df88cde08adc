// `meshctl server`: the control plane, assembled. Opens the store, makes the
// server's own node and (on first start) the management token, starts the
// health monitor and serves the API. Stateless above its store.

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { systemClock, systemRandom, type Clock, type Random, type TimerHandle } from '../lib/clock.ts';
import { MeshError } from '../lib/errors.ts';
import { joinHostPort, parseHostPort, type HostPort } from '../lib/net/host-port.ts';
import { TokenRegistry } from './acl/tokens.ts';
import { getCheck, upsertCheck, upsertNode } from './catalog/catalog.ts';
import { HealthMonitor } from './catalog/monitor.ts';
import { NODE_HEALTH_CHECK_ID, NODE_HEALTH_CHECK_NAME } from './catalog/types.ts';
import { addAclRoutes } from './api/consul/acl.ts';
import { addAgentRoutes } from './api/consul/agent.ts';
import { addCatalogRoutes } from './api/consul/catalog.ts';
import { addHealthRoutes } from './api/consul/health.ts';
import { addKvRoutes } from './api/consul/kv.ts';
import { addStatusRoutes } from './api/consul/status.ts';
import type { Handler } from './api/context.ts';
import type { ApiDeps } from './api/deps.ts';
import { createApiServer, createTlsApiServer } from './api/http-server.ts';
import { checkPeerCertificate } from '../lib/pki/peer.ts';
import { addHeartbeatRoutes } from './api/mesh/heartbeat.ts';
import { addMeshConfigRoutes } from './api/mesh/config.ts';
import { addConfigKindsRoutes } from './api/mesh/config-kind.ts';
import { addIntentionRoutes } from './api/mesh/intentions.ts';
import { addRouteRoutes } from './api/mesh/routes.ts';
import { addMeshServicesRoutes } from './api/mesh/services.ts';
import { addPrometheusSdRoutes } from './api/mesh/prometheus-sd.ts';
import { addCaRoutes } from './api/mesh/ca.ts';
import { addTapRoutes } from './api/mesh/tap.ts';
import { TapHub } from './telemetry/tap-hub.ts';
import { addTelemetryRoutes } from './api/mesh/telemetry.ts';
import { TelemetryState } from './telemetry/telemetry.ts';
import { Authority } from './ca/authority.ts';
import { certificateHash } from '../lib/pki/x509.ts';
import { Router } from './api/router.ts';
import { SqliteStore } from './store/sqlite-store.ts';
import type { Store } from './store/store.ts';
import { makeDirs } from '../lib/make-dirs.ts';

// dist/control/server.js and src/control/server.ts both sit two levels below package.json.
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface ServerOptions {
  dataDir: string;
  /** host:port; port 0 picks a free one. */
  httpAddr: string;
  /** host:port of the TLS API other hosts use; '' for none (--dev). */
  httpsAddr: string;
  datacenter: string;
  nodeName: string;
  /** The address other hosts reach this server's node at; defaults to the http-addr host. */
  advertiseAddr?: string;
  /** No ACLs, state in memory: for demos only. */
  dev: boolean;
  reapIntervalMs?: number;
  /** The SPIFFE trust domain; default <cluster-id>.mesh, fixed at first start. */
  trustDomain?: string;
  leafTtlMs?: number;
  clock?: Clock;
  random?: Random;
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly address: string;
  /** The TLS API's host:port, '' when off. */
  readonly httpsAddress: string;
  readonly store: Store;
  /** The management token's secret, on the first start only. */
  readonly bootstrapSecret: string | undefined;
  readonly managementTokenFile: string | undefined;
  /** sha256 of the active CA root's DER, for join --ca-hash. */
  readonly caHash: string;
  readonly trustDomain: string;
  /** Whether this start made the CA (the first one). */
  readonly caCreated: boolean;
  close(): Promise<void>;
}

const NODE_ID_KEY = 'server/node-id';
const BOOTSTRAPPED_KEY = 'acl/bootstrapped';

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const log = options.log ?? (() => {});
  // Both addresses before anything is made: a bad --https-addr must not leave a data dir and a CA behind.
  const httpAt = serverAddrOption(options.httpAddr, '--http-addr');
  const httpsAt = options.httpsAddr ? serverAddrOption(options.httpsAddr, '--https-addr') : undefined;
  const { host, port } = httpAt;

  let storePath = ':memory:';
  if (!options.dev) {
    try {
      makeDirs(options.dataDir, 0o700);
    } catch (error) {
      throw new MeshError('MESH_E_DATA_DIR', `cannot create the data dir ${options.dataDir}: ${(error as Error).message}`, {
        hint: 'pick a writable --data-dir',
        cause: error,
      });
    }
    storePath = join(options.dataDir, 'store.db');
  }
  const store = new SqliteStore({ path: storePath });
  const tokens = new TokenRegistry(store);
  const monitor = new HealthMonitor({
    store,
    clock,
    nodeName: options.nodeName,
    ...(options.reapIntervalMs ? { reapIntervalMs: options.reapIntervalMs } : {}),
    onError: (error) => log(`health monitor: ${(error as Error).message}`),
  });

  const nodeId = await ensureNodeId(store);
  const advertiseHost = options.advertiseAddr ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  await registerSelf(store, options, nodeId, advertiseHost);

  let bootstrapSecret: string | undefined;
  let managementTokenFile: string | undefined;
  if (!options.dev && !store.get(BOOTSTRAPPED_KEY)) {
    const { secret } = await tokens.create({ policy: 'management', description: 'Bootstrap management token' });
    managementTokenFile = join(options.dataDir, 'management.token');
    writeFileSync(managementTokenFile, `${secret}\n`, { mode: 0o600 });
    chmodSync(managementTokenFile, 0o600);
    await store.transact((txn) => txn.put(BOOTSTRAPPED_KEY, { at: new Date(clock.now()).toISOString() }));
    bootstrapSecret = secret;
  }

  const authority = new Authority(store, clock, options.datacenter);
  const caCreated = !store.get('ca/state');
  const ca = await authority.ensure({
    ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}),
    ...(options.leafTtlMs ? { leafTtlMs: options.leafTtlMs } : {}),
  });

  const router = new Router<Handler>();
  let http: Server | undefined;
  const deps: ApiDeps = {
    store,
    monitor,
    tokens,
    random,
    clock,
    datacenter: options.datacenter,
    nodeName: options.nodeName,
    nodeId,
    get advertise() {
      return joinHostPort(advertiseHost, (http?.address() as AddressInfo | null)?.port ?? port);
    },
    version: VERSION,
  };
  addAgentRoutes(router, deps);
  addCatalogRoutes(router, deps);
  addHealthRoutes(router, deps);
  addKvRoutes(router, deps);
  addStatusRoutes(router, deps);
  addAclRoutes(router, deps);
  addHeartbeatRoutes(router, deps);
  addMeshConfigRoutes(router, deps);
  addConfigKindsRoutes(router, deps);
  addIntentionRoutes(router, deps);
  addRouteRoutes(router, deps);
  addMeshServicesRoutes(router, deps);
  addPrometheusSdRoutes(router, deps);
  addCaRoutes(router, deps, authority);
  addTapRoutes(router, deps, new TapHub({ clock }));
  addTelemetryRoutes(router, deps, new TelemetryState(clock, log));

  const apiOptions = {
    router,
    aclsEnabled: !options.dev,
    resolveToken: (secret: string) => tokens.resolve(secret),
    onError: (error: unknown, req: { method?: string | undefined; url?: string | undefined }) => log(`error serving ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`),
  };
  http = createApiServer(apiOptions);
  const server = http;
  const credentials = () => {
    const c = authority.serverCredentials(SERVER_CERT_TTL_MS);
    return { key: c.keyPem, cert: c.certPem, ca: c.rootsPem };
  };
  const https = options.httpsAddr
    ? createTlsApiServer(apiOptions, {
        credentials: credentials(),
        peerServiceOf: (socket) => {
          const raw = socket.getPeerCertificate().raw;
          const check = raw ? checkPeerCertificate(raw, authority.state().trustDomain) : undefined;
          return check?.ok ? check.identity.service : undefined;
        },
      })
    : undefined;
  // A rotation re-issues the server's certificate from the new root, and so does time: it lives 30 days, renewed weekly.
  const renewServerCert = () => https?.setSecureContext(credentials());
  authority.onRotate = renewServerCert;
  let renewal: TimerHandle | undefined;
  const scheduleRenewal = (): void => {
    renewal = clock.after(SERVER_CERT_RENEW_MS, () => {
      renewServerCert();
      scheduleRenewal();
    });
  };
  if (https) scheduleRenewal();
  monitor.start();
  let httpsAddress = '';
  try {
    await listenOn(server, options.httpAddr, httpAt, '--http-addr');
    if (https && httpsAt) httpsAddress = await listenOn(https, options.httpsAddr, httpsAt, '--https-addr');
  } catch (error) {
    monitor.stop();
    renewal?.cancel();
    server.close();
    store.close();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const address = joinHostPort(bound.address, bound.port);

  return {
    address,
    httpsAddress,
    store,
    bootstrapSecret,
    managementTokenFile,
    caHash: certificateHash(authority.activeRoot().certPem),
    trustDomain: ca.trustDomain,
    caCreated,
    async close() {
      monitor.stop();
      renewal?.cancel();
      await Promise.all(
        [server, https].map((s) =>
          s
            ? new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeAllConnections();
              })
            : undefined,
        ),
      );
      store.close();
    },
  };
}

const SERVER_CERT_TTL_MS = 30 * 86_400_000;
const SERVER_CERT_RENEW_MS = 7 * 86_400_000;

/** Listens on host:port; resolves the bound address, or a usage error naming the flag. */
function listenOn(server: NetServer, addr: string, { host, port }: HostPort, flag: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new MeshError('MESH_E_USAGE', `cannot listen on ${addr}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`, {
          hint: `choose another ${flag}, or stop what is listening there`,
          cause: error,
        }),
      );
    });
    server.listen(port, host, () => {
      const bound = server.address() as AddressInfo;
      resolve(joinHostPort(bound.address, bound.port));
    });
  });
}

async function ensureNodeId(store: Store): Promise<string> {
  const existing = store.get<string>(NODE_ID_KEY);
  if (existing) return existing.value;
  const id = randomUUID();
  await store.transact((txn) => txn.put(NODE_ID_KEY, id));
  return id;
}

/** The server is a node of its own catalog, always alive while it serves. */
async function registerSelf(store: Store, options: ServerOptions, nodeId: string, address: string): Promise<void> {
  await store.transact((txn) => {
    upsertNode(txn, {
      ID: nodeId,
      Node: options.nodeName,
      Address: address,
      Datacenter: options.datacenter,
      TaggedAddresses: {},
      Meta: { 'meshctl-role': 'server' },
    });
    const check = getCheck(txn, options.nodeName, NODE_HEALTH_CHECK_ID);
    if (!check || check.value.Status !== 'passing' || check.value.Definition.TTL) {
      upsertCheck(txn, {
        Node: options.nodeName,
        CheckID: NODE_HEALTH_CHECK_ID,
        Name: NODE_HEALTH_CHECK_NAME,
        Status: 'passing',
        Notes: '',
        Output: 'Agent alive and reachable',
        ServiceID: '',
        Type: '',
        Definition: {},
      });
    }
  });
}

/** --http-addr or --https-addr: a host name or IP (IPv6 in brackets) and a port, 0 for any free one (tests). */
function serverAddrOption(addr: string, flag: string): HostPort {
  const parsed = parseHostPort(addr, { hosts: 'name', minPort: 0 });
  if (!parsed.ok) throw new MeshError('MESH_E_USAGE', `${flag} "${addr}" is not HOST:PORT: ${parsed.reason}`, { hint: `give host:port, for example ${flag} 127.0.0.1:${flag === '--https-addr' ? 8501 : 8500}, or 0.0.0.0:${flag === '--https-addr' ? 8501 : 8500} for every interface` });
  return parsed.value;
}
