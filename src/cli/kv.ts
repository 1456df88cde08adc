// `meshctl kv get|put|delete`: the Consul KV store from the command line.

import type { Command } from 'commander';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson } from './output.ts';

interface KvOut {
  Key: string;
  Value: string | null;
  Flags: number;
  ModifyIndex: number;
}

const keyPath = (key: string) => `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;

export function addKvCommands(program: Command): void {
  const kv = program
    .command('kv')
    .description('read and write the key-value store')
    .addHelpText('after', '\nExamples:\n  meshctl kv put config/web/level debug\n  meshctl kv get config/web/level\n  meshctl kv get --recurse config/ --json\n  meshctl kv delete config/web/level');

  withTarget(kv.command('get').description('print a value (or, with --recurse, every key under a prefix)').argument('<key>').option('--recurse', 'every key under the prefix').option('--json', 'print JSON').addHelpText('after', '\nExamples:\n  meshctl kv get config/web/level\n  meshctl kv get --recurse config/ --json')).action(
    async (key: string, flags: TargetFlags & { recurse?: boolean; json?: boolean }) => {
      const client = clientFor(flags);
      let entries: KvOut[];
      try {
        entries = (await client.request<KvOut[]>('GET', `${keyPath(key)}${flags.recurse ? '?recurse' : ''}`)).body;
      } catch (error) {
        if (error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND') {
          throw new MeshError('MESH_E_NOT_FOUND', `no key ${key}${flags.recurse ? ' or under it' : ''}`, { hint: 'see meshctl kv get --recurse PREFIX' });
        }
        throw error;
      }
      const decoded = entries.map((e) => ({ ...e, Value: e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString('utf8') }));
      if (flags.json) return printJson(flags.recurse ? decoded : decoded[0]);
      if (!flags.recurse) return void process.stdout.write(`${decoded[0]?.Value ?? ''}\n`);
      for (const e of decoded) process.stdout.write(`${e.Key}:${e.Value}\n`);
    },
  );

  withTarget(kv.command('put').description('write a value').argument('<key>').argument('<value>').option('--cas <index>', 'write only if the key\'s ModifyIndex is this (0: only if absent)').addHelpText('after', '\nExamples:\n  meshctl kv put config/web/level debug\n  meshctl kv put --cas 0 locks/leader host-1')).action(
    async (key: string, value: string, flags: TargetFlags & { cas?: string }) => {
      if (flags.cas !== undefined && !/^\d+$/.test(flags.cas)) throw new MeshError('MESH_E_USAGE', `invalid --cas "${flags.cas}"`, { hint: 'give the ModifyIndex, a whole number' });
      const { body } = await clientFor(flags).request<boolean>('PUT', `${keyPath(key)}${flags.cas !== undefined ? `?cas=${flags.cas}` : ''}`, value);
      if (!body) throw new MeshError('MESH_E_CONFLICT', `the write to ${key} lost its check-and-set`, { hint: 'read the key again for its current ModifyIndex' });
      process.stdout.write(`wrote ${key}\n`);
    },
  );

  withTarget(kv.command('delete').description('delete a key (or, with --recurse, a prefix)').argument('<key>').option('--recurse', 'every key under the prefix').addHelpText('after', '\nExamples:\n  meshctl kv delete config/web/level\n  meshctl kv delete --recurse config/web/')).action(
    async (key: string, flags: TargetFlags & { recurse?: boolean }) => {
      await clientFor(flags).request<boolean>('DELETE', `${keyPath(key)}${flags.recurse ? '?recurse' : ''}`);
      process.stdout.write(`deleted ${key}${flags.recurse ? ' and everything under it' : ''}\n`);
    },
  );
}
