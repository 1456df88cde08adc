// SPIFFE IDs of mesh services: spiffe://<trust-domain>/ns/default/dc/<dc>/svc/<service>.

const SERVICE_ID = /^spiffe:\/\/([a-z0-9.-]+)\/ns\/default\/dc\/([a-zA-Z0-9-]+)\/svc\/([a-zA-Z0-9][a-zA-Z0-9-]{0,63})$/;

export interface ServiceIdentity {
  trustDomain: string;
  datacenter: string;
  service: string;
}

export const spiffeIdOf = (id: ServiceIdentity): string => `spiffe://${id.trustDomain}/ns/default/dc/${id.datacenter}/svc/${id.service}`;

export function parseSpiffeId(uri: string): ServiceIdentity | undefined {
  const match = SERVICE_ID.exec(uri);
  return match ? { trustDomain: match[1] as string, datacenter: match[2] as string, service: match[3] as string } : undefined;
}
