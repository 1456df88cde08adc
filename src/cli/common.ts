// Options and plumbing shared by the commands that talk to the server.

import type { Command } from 'commander';
import { ApiClient } from './api-client.ts';
import { readAgentConfig, resolveTarget } from './target.ts';

export interface TargetFlags {
  server?: string;
  token?: string;
}

export function withTarget(command: Command): Command {
  return command
    .option('--server <addr>', 'server address (env MESHCTL_SERVER; default: the joined agent\'s server, else 127.0.0.1:8500)')
    .option('--token <secret>', 'ACL token (env MESHCTL_TOKEN; default: the joined agent\'s token)');
}

export function clientFor(flags: TargetFlags): ApiClient {
  const env = process.env;
  const agentConfig = flags.server && flags.token ? undefined : readAgentConfig(env);
  return new ApiClient(resolveTarget({ flagServer: flags.server, flagToken: flags.token, env, agentConfig }));
}
