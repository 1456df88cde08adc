// The CA's API. GET /v1/connect/ca/roots in Consul's shape (public: roots are
// what every host must trust); POST /v1/mesh/ca/sign turns a CSR into a leaf
// for a service the caller's token may register; POST /v1/mesh/ca/rotate
// makes a new root (operator:write).

import { badRequest, MeshError } from '../../../lib/errors.ts';
import { isMeshInternalService } from '../../../config/agent-service.ts';
import { CA_KEY, type Authority } from '../../ca/authority.ts';
import { blockingRead } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { decodeStruct, parseJsonBody } from '../consul/decode.ts';

export function addCaRoutes(router: Router<Handler>, deps: ApiDeps, authority: Authority): void {
  // A blocking query: agents watch it, so a rotation's new root reaches every host in one round trip.
  router.add('GET', '/v1/connect/ca/roots', (ctx) => blockingRead(ctx, deps.store, { prefixes: [CA_KEY] }, deps.random, () => {
    const state = authority.state();
    return {
      json: {
        ActiveRootID: state.roots[0]?.id ?? '',
        TrustDomain: state.trustDomain,
        ClusterID: state.clusterId,
        LeafCertTTL: `${Math.round(state.leafTtlMs / 1000)}s`,
        Roots: state.roots.map((root, i) => ({
          ID: root.id,
          Name: `meshctl CA ${state.trustDomain}`,
          RootCert: root.certPem,
          IntermediateCerts: root.crossSignedPem ? [root.crossSignedPem] : [],
          Active: i === 0,
          NotBefore: root.notBefore,
          NotAfter: root.notAfter,
        })),
      },
    };
  }));

  router.add('POST', '/v1/mesh/ca/rotate', async (ctx) => {
    ctx.require({ resource: 'operator', access: 'write' });
    const state = await authority.rotate({ force: ctx.query.get('force') === 'true' });
    return { json: { ActiveRootID: state.roots[0]?.id ?? '', Roots: state.roots.map((r) => r.id) } };
  });

  router.add('POST', '/v1/mesh/ca/sign', async (ctx) => {
    const body = decodeStruct({ CSR: 'string' }, parseJsonBody(await ctx.body(64 * 1024)), '');
    const csr = body.CSR as string | undefined;
    if (!csr) throw badRequest('Missing CSR: give {"CSR": "-----BEGIN CERTIFICATE REQUEST-----..."}');
    // The token may register the service, or the caller proves it is that service with its current leaf
    // (a renewal that does not depend on the join token still being valid).
    // The agents' own catalog entry (meshctl-agent) is never a mesh identity, whatever the token may register.
    const leaf = authority.sign(csr, (service) => {
      if (isMeshInternalService(service)) throw new MeshError('MESH_E_PERMISSION_DENIED', `"${service}" is the agents' own catalog entry (their metrics), reserved by the mesh: it never has a certificate`);
      return ctx.can({ resource: 'service', access: 'write', name: service }) || ctx.peerService === service;
    });
    return {
      json: { CertPEM: leaf.certPem, ChainPEM: leaf.chainPem, SpiffeID: leaf.spiffeId, Service: leaf.identity.service, ValidAfter: leaf.validAfter, ValidBefore: leaf.validBefore, RootID: leaf.rootId },
    };
  });
}
