// The processes `meshctl join` installs: `meshctl agent` (the host agent) and
// `meshctl supervise` (the built-in supervisor). Operators rarely run them by
// hand; they are listed so that `ps` and unit files read plainly.

import type { Command } from 'commander';
import { Agent } from '../agent/agent.ts';
import { DEFAULT_CONFIG_DIR, readAgentConfigFile } from '../agent/config/agent-config.ts';
import { runSupervisor } from '../agent/supervisor/builtin.ts';
import { selfCommand } from '../agent/supervisor/install.ts';
import { MeshError } from '../lib/errors.ts';
import { VERSION } from '../control/server.ts';

/**
 * Starts the agent; when it cannot start, the error goes up to be printed and
 * the process exits with it even if a handle outlived the agent's stop (a
 * socket, a file open still in libuv's pool): an agent that failed must end,
 * so that its supervisor, systemd or join sees the failure.
 */
export async function startOrExit(agent: Agent): Promise<void> {
  try {
    await agent.start();
  } catch (error) {
    // After main has printed the error and set the exit code; unref'd, so a clean exit comes first.
    setTimeout(() => process.exit(), 1000).unref();
    throw error;
  }
}

function loadConfig(configDir: string) {
  const config = readAgentConfigFile(configDir);
  if (!config) throw new MeshError('MESH_E_USAGE', `no agent config in ${configDir}`, { hint: 'run meshctl join first' });
  return config;
}

export function addAgentProcessCommands(program: Command): void {
  program
    .command('agent')
    .description('run the host agent in the foreground (meshctl join installs and supervises it)')
    .option('--config-dir <dir>', 'where join wrote agent.json', DEFAULT_CONFIG_DIR)
    .addHelpText('after', '\nExamples:\n  meshctl agent --config-dir /etc/meshctl\n\nSIGTERM stops it without deregistering; SIGHUP rereads agent.json.')
    .action(async (flags: { configDir: string }) => {
      const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      const agent = new Agent({ config: loadConfig(flags.configDir), version: VERSION, log });
      await startOrExit(agent);
      process.on('SIGHUP', () => {
        try {
          agent.reload(loadConfig(flags.configDir));
        } catch (error) {
          log(`reload refused, keeping the running config: ${(error as Error).message}`);
        }
      });
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log(`${signal}: stopping (services stay registered; meshctl leave deregisters)`);
          agent.stop().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  program
    .command('supervise')
    .description('run the built-in supervisor, which keeps the agent running (used where systemd is not PID 1)')
    .option('--config-dir <dir>', 'the agent config dir', DEFAULT_CONFIG_DIR)
    .requiredOption('--data-dir <dir>', 'where pid files and logs go')
    .addHelpText('after', '\nExamples:\n  meshctl supervise --config-dir /etc/meshctl --data-dir /var/lib/meshctl')
    .action(async (flags: { configDir: string; dataDir: string }) => {
      await runSupervisor({ dataDir: flags.dataDir, agentCommand: selfCommand(['agent', '--config-dir', flags.configDir]) });
    });
}
