// `meshctl ca show`: the mesh CA as hosts see it. `meshctl ca rotate`: a new
// root, cross-signed by the current one, which stays trusted.

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
  withTarget(
    ca
      .command('rotate')
      .description('make a new root, cross-signed by the current one; both stay trusted while agents renew their leaves (within seconds)')
      .option('--json', 'print JSON')
      .option('--force', 'rotate even when the root it drops may still have leaves in use (hosts holding them lose trust)')
      .addHelpText('after', '\nExamples:\n  meshctl ca rotate\n\nOpen connections are not touched. Agents get the new root through their watch and renew\nevery leaf of the old root within 2 s. The previous root stays trusted until the next rotation.'),
  ).action(async (flags: TargetFlags & { json?: boolean; force?: boolean }) => {
    const { body } = await clientFor(flags).request<{ ActiveRootID: string; Roots: string[] }>('POST', `/v1/mesh/ca/rotate${flags.force ? '?force=true' : ''}`);
    if (flags.json) return printJson(body);
    process.stdout.write(`new active root: ${body.ActiveRootID}\ntrusted roots:   ${body.Roots.length} (the previous one stays trusted until the next rotation)\nagents renew their leaves within seconds; check with: meshctl status\n`);
  });
}
