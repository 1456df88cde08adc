// `meshctl ca show`: the mesh CA as hosts see it.

import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson } from './output.ts';

interface Roots {
  ActiveRootID: string;
  TrustDomain: string;
  ClusterID: string;
  LeafCertTTL: string;
  Roots: Array<{ ID: string; RootCert: string; Active: boolean; NotBefore: string; NotAfter: string }>;
}

export function addCaCommands(program: Command): void {
  const ca = program.command('ca').description('the mesh certificate authority').addHelpText('after', '\nExamples:\n  meshctl ca show\n  meshctl ca show --json');
  withTarget(ca.command('show').description('show the CA: trust domain, roots, the hash to pin at join, the leaf TTL').option('--json', 'print JSON').addHelpText('after', '\nExamples:\n  meshctl ca show\n  meshctl ca show --json')).action(
    async (flags: TargetFlags & { json?: boolean }) => {
      const { body } = await clientFor(flags).request<Roots>('GET', '/v1/connect/ca/roots');
      if (flags.json) return printJson(body);
      const out = process.stdout;
      out.write(`trust domain: ${body.TrustDomain}\ncluster id:   ${body.ClusterID}\nleaf TTL:     ${body.LeafCertTTL}\n`);
      for (const root of body.Roots) {
        const cert = new X509Certificate(root.RootCert);
        out.write(`root ${root.Active ? '(active)' : '(trusted)'}: ${cert.subject.replace(/\n/g, ', ')}\n  valid ${root.NotBefore} to ${root.NotAfter}\n  pin with: --ca-hash ${root.ID}\n`);
      }
    },
  );
}
