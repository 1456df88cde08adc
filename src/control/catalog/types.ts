// The catalog's records as stored. Field names are Consul's, so the API layer
// maps them out with little more than the indexes added.

export type HealthStatus = 'passing' | 'warning' | 'critical';
export const HEALTH_STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];

export interface NodeRecord {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
}

export interface ServiceAddress {
  Address: string;
  Port: number;
}

export interface ServiceRecord {
  Kind: string;
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  SocketPath: string;
  TaggedAddresses: Record<string, ServiceAddress>;
  Meta: Record<string, string>;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  /** Kept as sent (Connect.SidecarService, Proxy): the mesh reads them later. */
  Proxy: unknown;
  Connect: unknown;
}

/** How a check is run; durations are kept as the Go duration strings Consul shows. */
export interface CheckDefinition {
  Interval?: string;
  Timeout?: string;
  TTL?: string;
  HTTP?: string;
  Method?: string;
  Header?: Record<string, string[]>;
  Body?: string;
  TLSServerName?: string;
  TLSSkipVerify?: boolean;
  DisableRedirects?: boolean;
  TCP?: string;
  DeregisterCriticalServiceAfter?: string;
}

export interface CheckRecord {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthStatus;
  Notes: string;
  Output: string;
  /** '' for a node-level check. */
  ServiceID: string;
  Type: string;
  Definition: CheckDefinition;
}

/** The node-level check that says whether a node's agent is alive. */
export const NODE_HEALTH_CHECK_ID = 'serfHealth';
export const NODE_HEALTH_CHECK_NAME = 'Serf Health Status';
