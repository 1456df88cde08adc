// Request body shapes of the Consul endpoints meshctl serves, by Consul's Go
// struct names (api.AgentServiceRegistration, api.AgentServiceCheck,
// api.CatalogRegistration, api.HealthCheck).

import type { Spec } from './decode.ts';

export const checkDefinitionSpec: Spec = {
  HTTP: 'string',
  Header: 'stringListMap',
  Method: 'string',
  Body: 'string',
  TLSServerName: 'string',
  TLSSkipVerify: 'bool',
  DisableRedirects: 'bool',
  TCP: 'string',
  Interval: 'duration',
  Timeout: 'duration',
  TTL: 'duration',
  DeregisterCriticalServiceAfter: 'duration',
};

/** api.AgentServiceCheck and api.AgentCheckRegistration (which adds ID and ServiceID). */
export const agentCheckSpec: Spec = {
  ...checkDefinitionSpec,
  ID: 'string',
  CheckID: 'string',
  Name: 'string',
  ServiceID: 'string',
  Notes: 'string',
  Status: 'string',
  Args: 'stringList',
  ScriptArgs: 'stringList',
  Shell: 'string',
  DockerContainerID: 'string',
  GRPC: 'string',
  GRPCUseTLS: 'bool',
  H2PING: 'string',
  H2PingUseTLS: 'bool',
  UDP: 'string',
  OSService: 'string',
  AliasNode: 'string',
  AliasService: 'string',
  SuccessBeforePassing: 'int',
  FailuresBeforeWarning: 'int',
  FailuresBeforeCritical: 'int',
  OutputMaxSize: 'int',
};

const serviceAddressSpec: Spec = { Address: 'string', Port: 'int' };
const weightsSpec: Spec = { Passing: 'int', Warning: 'int' };

export const agentServiceSpec: Spec = {
  Kind: 'string',
  ID: 'string',
  Name: 'string',
  Tags: 'stringList',
  Port: 'int',
  Address: 'string',
  SocketPath: 'string',
  TaggedAddresses: { map: serviceAddressSpec },
  EnableTagOverride: 'bool',
  Meta: 'stringMap',
  Weights: { struct: weightsSpec },
  Check: { struct: agentCheckSpec },
  Checks: { list: agentCheckSpec },
  Proxy: 'any',
  Connect: 'any',
  Namespace: 'string',
  Partition: 'string',
};

/** api.AgentService as nested in a catalog registration ("Service" instead of "Name"). */
export const catalogServiceSpec: Spec = {
  Kind: 'string',
  ID: 'string',
  Service: 'string',
  Tags: 'stringList',
  Port: 'int',
  Address: 'string',
  SocketPath: 'string',
  TaggedAddresses: { map: serviceAddressSpec },
  EnableTagOverride: 'bool',
  Meta: 'stringMap',
  Weights: { struct: weightsSpec },
  Proxy: 'any',
  Connect: 'any',
};

export const healthCheckSpec: Spec = {
  Node: 'string',
  CheckID: 'string',
  Name: 'string',
  Status: 'string',
  Notes: 'string',
  Output: 'string',
  ServiceID: 'string',
  ServiceName: 'string',
  Type: 'string',
  Definition: { struct: checkDefinitionSpec },
};

export const catalogRegisterSpec: Spec = {
  ID: 'string',
  Node: 'string',
  Address: 'string',
  Datacenter: 'string',
  TaggedAddresses: 'stringMap',
  NodeMeta: 'stringMap',
  Service: { struct: catalogServiceSpec },
  Check: { struct: healthCheckSpec },
  Checks: { list: healthCheckSpec },
  SkipNodeUpdate: 'bool',
};

export const catalogDeregisterSpec: Spec = {
  Node: 'string',
  Datacenter: 'string',
  ServiceID: 'string',
  CheckID: 'string',
};

export const checkUpdateSpec: Spec = { Status: 'string', Output: 'string' };
