// `meshctl split DEST v1=90 v2=10`: the common canary in one command. Sets
// (or replaces) the catch-all route named split at the end of DEST's
// routes, so the routes before it still decide the requests they match.

import type { Command } from 'commander';
import { checkRouter, describeTarget } from '../config/routes.ts';
import { withSplit } from '../config/route-edit.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { checkDestination, editRouter, subsetsOf } from './route-entries.ts';
import { splitOf } from './route-flags.ts';

export function addSplitCommand(program: Command): void {
  withTarget(
    program
      .command('split')
      .description('send DEST\'s requests that no other route matches over subsets by weight: the catch-all route "split", last')
      .argument('<dest>')
      .argument('<weights...>', 'SUBSET=WEIGHT (or SERVICE=WEIGHT, SERVICE:SUBSET=WEIGHT), adding up to 100')
      .addHelpText('after', '\nSets (or replaces) the route named split at the end of DEST\'s routes.\n\nExamples:\n  meshctl split api v1=90 v2=10\n  meshctl split api v1=50 v2=50\n  meshctl split api v2=100'),
  ).action(async (dest: string, weights: string[], flags: TargetFlags) => {
    checkDestination(dest);
    const client = clientFor(flags);
    const split = splitOf(weights, await subsetsOf(client, dest), 'split');
    const checked = checkRouter(withSplit(undefined, split));
    if (!checked.ok) throw new MeshError('MESH_E_USAGE', `invalid split ${weights.join(' ')}: ${checked.errors.map((e) => e.message).join('; ')}`, { hint: 'give SUBSET=WEIGHT pairs adding up to 100, e.g. meshctl split api v1=90 v2=10; nothing was stored' });
    await editRouter(client, dest, (current) => withSplit(current, split));
    process.stdout.write(`split ${dest}: ${split.map((s) => `${describeTarget(s, dest)}=${s.Weight}`).join(' ')}\n`);
  });
}
