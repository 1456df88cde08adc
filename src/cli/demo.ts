// `meshctl demo`: a whole mesh on this machine in one command (src/demo/
// does the work), then the dashboard. Ctrl-C, or q in the dashboard,
// removes everything it made.

import { Option, type Command } from 'commander';
import { MeshError } from '../lib/errors.ts';
import { selfCommand } from '../agent/supervisor/install.ts';
import { runDemo } from '../demo/demo.ts';
import { runDashboard } from '../dashboard/dashboard.ts';

interface DemoFlags {
  dashboard: boolean;
  rate: string;
  hostsMode: 'auto' | 'netns' | 'loopback';
  errorRate: string;
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a whole mesh on this machine: a control plane with ACLs on, three hosts, a sample app with traffic, and the dashboard')
    .option('--no-dashboard', 'run until Ctrl-C instead of opening the dashboard (use meshctl stat or dashboard from another terminal)')
    .option('--rate <n>', "the traffic generator's requests per second", '20')
    .addOption(new Option('--hosts-mode <mode>', 'netns (network namespaces, needs root) or loopback (127.0.X.1-3); default netns when root and ip netns works').choices(['auto', 'netns', 'loopback']).default('auto'))
    .addOption(new Option('--error-rate <share>', "the share of db's queries that fail with 500 (seeded)").default('0.02').hideHelp())
    .addHelpText(
      'after',
      `
The hosts: host-1 runs frontend and the traffic generator, host-2 api v1,
host-3 api v2 and db. traffic → frontend → api (split v1=80 v2=20) → db, each
hop through the mesh with mTLS; db fails 2% of queries so success rates move.

Examples:
  meshctl demo
  meshctl demo --no-dashboard --rate 50
  meshctl demo --hosts-mode loopback`,
    )
    .action(async (flags: DemoFlags) => {
      const rate = Number(flags.rate);
      if (!(rate > 0 && rate <= 1000)) throw new MeshError('MESH_E_USAGE', `invalid --rate "${flags.rate}": requests per second from 0 to 1000`, { hint: 'give --rate 20' });
      const errorRate = Number(flags.errorRate);
      if (!(errorRate >= 0 && errorRate <= 1)) throw new MeshError('MESH_E_USAGE', `invalid --error-rate "${flags.errorRate}": a share from 0 to 1`, { hint: 'give --error-rate 0.02' });
      await runDemo({
        mode: flags.hostsMode,
        rate,
        errorRate,
        meshctl: selfCommand([]),
        say: (line) => process.stdout.write(`${line}\n`),
        ...(flags.dashboard ? { openDashboard: ({ client }) => runDashboard({ client, title: 'meshctl demo' }) } : {}),
      });
    });
}
