// `meshctl token create|list|revoke`: scoped ACL tokens.

import type { Command } from 'commander';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { colour, printJson, printTable } from './output.ts';

interface TokenOut {
  AccessorID: string;
  SecretID?: string;
  Description: string;
  MeshPolicy: string;
  NodeIdentities: Array<{ NodeName: string }>;
  ServiceIdentities: Array<{ ServiceName: string }>;
  CreateTime: string;
}

const POLICIES = ['management', 'agent', 'read'];

export function addTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('make, list and revoke ACL tokens')
    .addHelpText('after', '\nExamples:\n  meshctl token create --policy agent --node host-1 --service web --service api\n  meshctl token create --policy read --description prometheus\n  meshctl token list\n  meshctl token revoke 6a1f…');

  withTarget(
    token
      .command('create')
      .description('make a token; its secret is printed once')
      .requiredOption('--policy <policy>', `one of ${POLICIES.join(', ')}`)
      .option('--node <name>', 'the node an agent token may register (agent policy)')
      .option('--service <name...>', 'a service an agent token may register (repeatable)')
      .option('--description <text>', 'what the token is for')
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl token create --policy agent --node host-1 --service web\n  meshctl token create --policy read --description "dashboard"\n  meshctl token create --policy management --json'),
  ).action(async (flags: TargetFlags & { policy: string; node?: string; service?: string[]; description?: string; json?: boolean }) => {
    if (!POLICIES.includes(flags.policy)) {
      throw new MeshError('MESH_E_USAGE', `unknown policy "${flags.policy}"`, { hint: `use --policy ${POLICIES.join('|')}` });
    }
    if (flags.policy === 'agent' && !flags.node) {
      throw new MeshError('MESH_E_USAGE', 'an agent token needs --node', { hint: 'add --node NAME (and --service NAME for each service it may register)' });
    }
    if (flags.policy !== 'agent' && (flags.node || flags.service)) {
      throw new MeshError('MESH_E_USAGE', `--node and --service scope agent tokens, not ${flags.policy} ones`, { hint: 'drop them, or use --policy agent' });
    }
    const body = {
      Description: flags.description ?? '',
      Policies: flags.policy === 'management' ? [{ Name: 'global-management' }] : flags.policy === 'read' ? [{ Name: 'global-read-only' }] : [],
      NodeIdentities: flags.policy === 'agent' ? [{ NodeName: flags.node }] : [],
      ServiceIdentities: (flags.service ?? []).map((ServiceName) => ({ ServiceName })),
    };
    const { body: created } = await clientFor(flags).request<TokenOut>('PUT', '/v1/acl/token', body);
    if (flags.json) return printJson(created);
    process.stdout.write(`AccessorID: ${created.AccessorID}\nSecretID:   ${colour.bold(created.SecretID ?? '')}\nPolicy:     ${describe(created)}\n`);
    process.stdout.write(colour.dim('The secret is shown only now; the server keeps its hash alone.\n'));
  });

  withTarget(token.command('list').description('list tokens (never their secrets)').option('--json', 'print JSON').addHelpText('after', '\nExamples:\n  meshctl token list\n  meshctl token list --json')).action(
    async (flags: TargetFlags & { json?: boolean }) => {
      const { body } = await clientFor(flags).request<TokenOut[]>('GET', '/v1/acl/tokens');
      if (flags.json) return printJson(body);
      printTable(
        ['ACCESSOR ID', 'POLICY', 'CREATED', 'DESCRIPTION'],
        body.map((t) => [t.AccessorID, describe(t), t.CreateTime, t.Description]),
      );
    },
  );

  withTarget(token.command('revoke').description('revoke a token by its accessor ID').argument('<accessor-id>').addHelpText('after', '\nExamples:\n  meshctl token revoke 6a1f0c2e-1b7d-4c1e-9a51-2f1f5d4e8b90')).action(
    async (accessorId: string, flags: TargetFlags) => {
      const { body } = await clientFor(flags).request<boolean>('DELETE', `/v1/acl/token/${encodeURIComponent(accessorId)}`);
      if (!body) throw new MeshError('MESH_E_NOT_FOUND', `no token with accessor ID ${accessorId}`, { hint: 'see meshctl token list' });
      process.stdout.write(`revoked ${accessorId}\n`);
    },
  );
}

function describe(t: TokenOut): string {
  if (t.MeshPolicy !== 'agent') return t.MeshPolicy;
  const services = t.ServiceIdentities.map((s) => s.ServiceName).join(',');
  return `agent node=${t.NodeIdentities[0]?.NodeName ?? ''}${services ? ` services=${services}` : ''}`;
}
