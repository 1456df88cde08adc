// `meshctl status` (this host's agent), `meshctl services` and `meshctl nodes`
// (the catalog's view, with health).

import type { Command } from 'commander';
import { DEFAULT_CONFIG_DIR, readAgentConfigFile } from '../agent/config/agent-config.ts';
import { MeshError } from '../lib/errors.ts';
import { fetchAdmin } from './admin-client.ts';
import { resolveAdminAddr } from '../agent/admin-addr.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { colour, printJson, printTable } from './output.ts';

interface AgentStatus {
  node: string;
  address: string;
  server: string;
  ready: boolean;
  serverReachable: boolean;
  registered: boolean;
  lastError?: string;
  lastSyncAt?: string;
  configVersion: number;
  pid: number;
  services: Array<{ name: string; port: number; check: { description: string; status: string; output: string } | null }>;
  upstreams: Array<{ name: string; localPort: number; instances: number; passing: number }>;
  certificates: Array<{ service: string; spiffeId: string; notAfter: string; valid: boolean }>;
}

const paint = (status: string) => (status === 'passing' ? colour.green(status) : status === 'warning' ? colour.yellow(status) : colour.red(status));

export function addStatusCommands(program: Command): void {
  program
    .command('status')
    .description("this host's agent: up or down, the server, each service's checks, the config version")
    .option('--config-dir <dir>', 'the config dir given to join', DEFAULT_CONFIG_DIR)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  meshctl status\n  meshctl status --json\n\nExits 1 when the agent is down.')
    .action(async (flags: { configDir: string; json?: boolean }) => {
      const config = readAgentConfigFile(flags.configDir);
      if (!config) throw new MeshError('MESH_E_NOT_FOUND', `this host has not joined: no agent config in ${flags.configDir}`, { hint: 'run meshctl join, or pass --config-dir' });
      let status: AgentStatus;
      try {
        status = await fetchAdmin<AgentStatus>(resolveAdminAddr(config), '/v1/status');
      } catch (error) {
        if (flags.json) printJson({ agent: 'down', node: config.nodeName, adminAddr: config.adminAddr, error: (error as Error).message });
        throw new MeshError('MESH_E_UNAVAILABLE', `agent: down (no answer on ${config.adminAddr}: ${(error as Error).message})`, { hint: 'the supervisor restarts it; see the logs under the data dir, or run meshctl join again' });
      }
      if (flags.json) return printJson({ agent: 'up', ...status });
      const out = process.stdout;
      out.write(`agent:   ${colour.green('up')} (pid ${status.pid}), node ${status.node} (${status.address})\n`);
      out.write(`server:  ${status.server} ${status.serverReachable ? colour.green('reachable') : colour.red('unreachable')}${status.lastError ? ` (${status.lastError})` : ''}\n`);
      out.write(`synced:  ${status.lastSyncAt ?? 'never'}; config version ${status.configVersion}\n`);
      if (status.certificates.length === 0) out.write('certs:   none (no local services)\n');
      for (const c of status.certificates) out.write(`cert:    ${c.service} ${c.valid ? `valid until ${c.notAfter}` : colour.red(c.notAfter ? `EXPIRED ${c.notAfter}` : 'not issued yet')} ${c.spiffeId}\n`);
      if (status.services.length) {
        printTable(['SERVICE', 'PORT', 'CHECK', 'STATUS', 'OUTPUT'], status.services.map((s) => [s.name, String(s.port), s.check?.description ?? 'none', s.check ? paint(s.check.status) : '-', (s.check?.output ?? '').slice(0, 60)]));
      }
      if (status.upstreams.length) {
        printTable(['UPSTREAM', 'LOCAL PORT', 'INSTANCES'], status.upstreams.map((u) => [u.name, String(u.localPort), `${u.passing}/${u.instances} passing`]));
      }
    });

  withTarget(
    program
      .command('services')
      .description("the catalog's services, with their instances' health")
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl services\n  meshctl services --json'),
  ).action(async (flags: TargetFlags & { json?: boolean }) => {
    const client = clientFor(flags);
    const { body: names, filteredByAcls } = await client.request<Record<string, string[]>>('GET', '/v1/catalog/services');
    if (filteredByAcls) warnFiltered('services');
    const services = [];
    for (const name of Object.keys(names)) {
      const { body } = await client.request<Array<{ Node: { Node: string; Address: string }; Service: { ID: string; Address: string; Port: number; Tags: string[] }; Checks: Array<{ Status: string }> }>>('GET', `/v1/health/service/${encodeURIComponent(name)}`);
      const instances = body.map((e) => {
        const statuses = e.Checks.map((c) => c.Status);
        const status = statuses.includes('critical') ? 'critical' : statuses.includes('warning') ? 'warning' : 'passing';
        return { id: e.Service.ID, node: e.Node.Node, address: e.Service.Address || e.Node.Address, port: e.Service.Port, tags: e.Service.Tags, status };
      });
      services.push({ name, tags: names[name], instances, passing: instances.filter((i) => i.status === 'passing').length });
    }
    if (flags.json) return printJson(services);
    printTable(
      ['SERVICE', 'HEALTHY', 'INSTANCES', 'TAGS'],
      services.map((s) => [s.name, `${s.passing}/${s.instances.length}`, s.instances.map((i) => `${i.node} ${i.address}:${i.port} ${paint(i.status)}`).join(', '), (s.tags ?? []).join(',')]),
    );
  });

  withTarget(
    program
      .command('nodes')
      .description("the catalog's nodes, with their health")
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl nodes\n  meshctl nodes --json'),
  ).action(async (flags: TargetFlags & { json?: boolean }) => {
    const client = clientFor(flags);
    const { body: nodes, filteredByAcls } = await client.request<Array<{ Node: string; Address: string; Meta: Record<string, string> }>>('GET', '/v1/catalog/nodes');
    if (filteredByAcls) warnFiltered('nodes');
    const rows = [];
    for (const node of nodes) {
      const { body: checks } = await client.request<Array<{ CheckID: string; Status: string; ServiceID: string }>>('GET', `/v1/health/node/${encodeURIComponent(node.Node)}`);
      const { body: detail } = await client.request<{ Services: Record<string, unknown> } | null>('GET', `/v1/catalog/node/${encodeURIComponent(node.Node)}`);
      const nodeCheck = checks.find((c) => c.CheckID === 'serfHealth');
      rows.push({ node: node.Node, address: node.Address, status: nodeCheck?.Status ?? 'unknown', services: Object.keys(detail?.Services ?? {}), meta: node.Meta });
    }
    if (flags.json) return printJson(rows);
    printTable(['NODE', 'ADDRESS', 'STATUS', 'SERVICES'], rows.map((r) => [r.node, r.address, paint(r.status), r.services.join(',')]));
  });
}

/** On stderr, so --json output stays what it was: an empty or short list is not the whole catalog. */
function warnFiltered(what: 'services' | 'nodes'): void {
  process.stderr.write(`meshctl: the server left out ${what} this token may not read: give one that may (--token or MESHCTL_TOKEN; meshctl token create --policy read makes a read-only one)\n`);
}
