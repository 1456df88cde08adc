// `meshctl server`: runs the control plane in the foreground.

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseGoDuration } from '../lib/duration.ts';
import { MeshError } from '../lib/errors.ts';
import { startServer } from '../control/server.ts';
import { colour } from './output.ts';

interface ServerFlags {
  dataDir?: string;
  httpAddr: string;
  httpsAddr?: string;
  datacenter: string;
  nodeName: string;
  advertiseAddr?: string;
  dev?: boolean;
  reapInterval?: string;
  trustDomain?: string;
  leafTtl: string;
}

export function addServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the control plane: the Consul-compatible catalog, KV, ACL tokens and the mesh API')
    .option('--data-dir <dir>', 'where the durable store and the management token live (required unless --dev)')
    .option('--http-addr <host:port>', 'address of the plain HTTP API, for tools on this host', '127.0.0.1:8500')
    .option('--https-addr <host:port>', "address of the TLS API other hosts' agents and tools use (default 0.0.0.0:8501; none with --dev)")
    .option('--datacenter <name>', 'datacenter name', 'dc1')
    .option('--node-name <name>', "the server's own node name", hostname())
    .option('--advertise-addr <ip>', "address other hosts reach the server's node at (default: the --http-addr host)")
    .option('--dev', 'no ACLs and state in memory: for demos only')
    .option('--trust-domain <domain>', 'the SPIFFE trust domain, fixed at first start (default <cluster-id>.mesh)')
    .option('--leaf-ttl <duration>', 'lifetime of service certificates, at least 5m', '24h')
    .addOption(new Option('--reap-interval <duration>', 'how often critical services are reaped').default('30s').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  meshctl server --data-dir /var/lib/meshctl-server
  meshctl server --data-dir ./data --https-addr 10.0.0.1:8501 --datacenter eu1
  meshctl server --dev

Hosts join over TLS, pinning the CA by the hash printed at first start:
  meshctl join 10.0.0.1:8501 --ca-hash sha256:… --token …

On first start the server prints a management token once and writes it,
mode 0600, to DATA_DIR/management.token. Use it to make scoped tokens:
  MESHCTL_TOKEN=$(cat DATA_DIR/management.token) meshctl token create --policy read`,
    )
    .action(async (flags: ServerFlags) => {
      if (!flags.dev && !flags.dataDir) {
        throw new MeshError('MESH_E_USAGE', 'meshctl server needs --data-dir', { hint: 'give --data-dir DIR for a durable server, or --dev for an in-memory demo' });
      }
      if (flags.dev && flags.dataDir) {
        throw new MeshError('MESH_E_USAGE', '--dev keeps state in memory and takes no --data-dir', { hint: 'drop one of --dev and --data-dir' });
      }
      const reapIntervalMs = parseGoDuration(flags.reapInterval ?? '30s');
      if (reapIntervalMs === undefined || reapIntervalMs <= 0) {
        throw new MeshError('MESH_E_USAGE', `invalid --reap-interval "${flags.reapInterval}"`, { hint: 'give a duration such as 30s' });
      }
      const leafTtlMs = parseGoDuration(flags.leafTtl);
      if (leafTtlMs === undefined || leafTtlMs < 5 * 60_000) {
        throw new MeshError('MESH_E_USAGE', `invalid --leaf-ttl "${flags.leafTtl}": at least 5m`, { hint: 'give a duration such as 24h, 1h or 5m' });
      }
      const dataDir = flags.dataDir ? resolve(flags.dataDir) : '';
      const httpsAddr = flags.httpsAddr ?? (flags.dev ? '' : '0.0.0.0:8501');
      if (flags.dev && flags.httpsAddr) throw new MeshError('MESH_E_USAGE', '--dev serves plain HTTP only and takes no --https-addr', { hint: 'drop --https-addr, or run a durable server with --data-dir' });
      const server = await startServer({
        dataDir,
        httpAddr: flags.httpAddr,
        httpsAddr,
        datacenter: flags.datacenter,
        nodeName: flags.nodeName,
        dev: flags.dev === true,
        reapIntervalMs,
        leafTtlMs,
        ...(flags.trustDomain ? { trustDomain: flags.trustDomain } : {}),
        ...(flags.advertiseAddr ? { advertiseAddr: flags.advertiseAddr } : {}),
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      const out = process.stdout;
      out.write(`meshctl server: serving on http://${server.address} (datacenter ${flags.datacenter}, node ${flags.nodeName})\n`);
      if (server.httpsAddress) out.write(`meshctl server: serving TLS on https://${server.httpsAddress} (certificate from the mesh CA, for server.${server.trustDomain})\n`);
      if (!flags.dev && !isLoopback(server.address)) process.stderr.write(`${colour.yellow(`warning: plain HTTP on ${server.address} is reachable from other hosts, and tokens cross it in the clear; keep --http-addr on 127.0.0.1 and let hosts use the TLS API`)}\n`);
      out.write(flags.dev ? `${colour.yellow('dev mode: ACLs off, state in memory; do not use in production')}\n` : `data dir: ${dataDir}\n`);
      // --dev has no TLS API to pin: its hosts join http://… on this machine.
      if (server.caCreated && server.httpsAddress) out.write(`CA created for trust domain ${server.trustDomain}; pin it on hosts with --ca-hash ${server.caHash}\n`);
      else if (server.caCreated) out.write(`CA created for trust domain ${server.trustDomain}\n`);
      else if (server.httpsAddress) out.write(`hosts join with --ca-hash ${server.caHash}\n`);
      if (server.bootstrapSecret) {
        out.write(`\nManagement token (shown once; also in ${server.managementTokenFile}, mode 0600):\n  ${colour.bold(server.bootstrapSecret)}\n\n`);
      }
      out.write('ready\n');
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          process.stderr.write(`meshctl server: ${signal}, shutting down\n`);
          server.close().then(done, done);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}

function isLoopback(address: string): boolean {
  return /^(127\.|\[::1\]|localhost)/.test(address);
}
