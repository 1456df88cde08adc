// meshctl's entry point: builds the command tree and maps every failure to
// one line naming the problem and the fix, with exit 2 for usage errors and
// 1 for runtime ones.

import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, isMeshError } from '../lib/errors.ts';
import { VERSION } from '../control/server.ts';
import { addServerCommand } from './server.ts';
import { addTokenCommands } from './token.ts';
import { addKvCommands } from './kv.ts';
import { addConfigCommands } from './config.ts';
import { addIntentionCommands } from './intention.ts';
import { addRouteCommands } from './route.ts';
import { addSubsetCommands } from './subset.ts';
import { addSplitCommand } from './split.ts';
import { addCaCommands } from './ca.ts';
import { addJoinCommands } from './join.ts';
import { addStatusCommands } from './status.ts';
import { addAgentProcessCommands } from './agent-process.ts';
import { addIptablesCommands } from './iptables.ts';
import { addCheckCommand } from './check.ts';
import { addDashboardCommand } from './dashboard.ts';
import { addDemoCommand } from './demo.ts';
import { addTapCommand } from './tap.ts';
import { addStatCommand } from './stat.ts';
import { colour } from './output.ts';

export function buildProgram(): Command {
  const program = new Command('meshctl')
    .description('A service mesh for VMs and bare metal, driven by one CLI.')
    .version(VERSION, '-v, --version')
    // Commander's errors become one line that names the fix, like ours.
    .configureOutput({ outputError: (text, write) => write(`${colour.red('error:')}${text.trimEnd().replace(/^error:/, '')} (add --help for usage and examples)\n`) })
    .addHelpText('after', '\nExamples:\n  meshctl server --data-dir /var/lib/meshctl-server\n  meshctl join 10.0.0.1:8500 --token $TOKEN --service web=8080,check=http://127.0.0.1:8080/health\n  meshctl services\n  meshctl token create --policy read\n  meshctl kv put config/app/level debug\n\nRun meshctl COMMAND --help for each command\'s flags and examples.');
  addServerCommand(program);
  addJoinCommands(program);
  addStatusCommands(program);
  addConfigCommands(program);
  addIntentionCommands(program);
  addRouteCommands(program);
  addSubsetCommands(program);
  addSplitCommand(program);
  addCaCommands(program);
  addTokenCommands(program);
  addKvCommands(program);
  addAgentProcessCommands(program);
  addIptablesCommands(program);
  addCheckCommand(program);
  addDashboardCommand(program);
  addDemoCommand(program);
  addTapCommand(program);
  addStatCommand(program);
  program.exitOverride();
  for (const command of allCommands(program)) command.exitOverride();
  return program;
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((child) => [child, ...allCommands(child)]);
}

export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (and the help hint).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT_OK;
      if (error.code === 'commander.executeSubCommandAsync') return error.exitCode;
      return EXIT_USAGE;
    }
    if (isMeshError(error)) {
      process.stderr.write(`${colour.red('error:')} ${error.message}${error.hint ? ` (${error.hint})` : ''}\n`);
      return error.exitCode;
    }
    process.stderr.write(`${colour.red('error:')} ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_RUNTIME;
  }
}

// A reader that goes away (meshctl services | head) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await run(process.argv.slice(2));
