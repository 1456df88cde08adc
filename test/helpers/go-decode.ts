// What Go's encoding/json would refuse when it decodes a Consul answer into the
// structs of github.com/hashicorp/consul/api (the client Prometheus's
// consul_sd_configs uses): a type mismatch anywhere fails the whole response,
// and Prometheus then shows no targets. Unknown fields are ignored, as in Go;
// null is accepted wherever Go accepts it (it leaves the zero value).

export type GoType =
  | 'string'
  | 'int'
  | 'uint'
  | 'bool'
  | 'strings'
  | 'stringMap'
  | 'stringListMap'
  /** api.ReadableDuration: a Go duration string ("" is refused) or a number of nanoseconds. */
  | 'duration'
  | { struct: GoStruct }
  | { list: GoType }
  | { map: GoType };
export interface GoStruct {
  [field: string]: GoType;
}

const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/** The paths at which Go would fail to decode value as type; [] when it decodes. */
export function goDecodeErrors(value: unknown, type: GoType, path = '$'): string[] {
  if (value === null) return [];
  const bad = (what: string) => [`${path}: ${JSON.stringify(value)} is not ${what}`];
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return typeof value === 'string' ? [] : bad('a string');
      case 'int':
        return Number.isInteger(value) ? [] : bad('an integer');
      case 'uint':
        return Number.isInteger(value) && (value as number) >= 0 ? [] : bad('an unsigned integer');
      case 'bool':
        return typeof value === 'boolean' ? [] : bad('a boolean');
      case 'strings':
        return goDecodeErrors(value, { list: 'string' }, path);
      case 'stringMap':
        return goDecodeErrors(value, { map: 'string' }, path);
      case 'stringListMap':
        return goDecodeErrors(value, { map: { list: 'string' } }, path);
      case 'duration':
        if (typeof value === 'number') return [];
        return typeof value === 'string' && GO_DURATION.test(value) ? [] : bad('a Go duration');
    }
  }
  if ('list' in type) {
    if (!Array.isArray(value)) return bad('an array');
    return value.flatMap((item, i) => goDecodeErrors(item, type.list, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || Array.isArray(value)) return bad('an object');
  const entries = Object.entries(value as Record<string, unknown>);
  if ('map' in type) return entries.flatMap(([key, item]) => goDecodeErrors(item, type.map, `${path}.${key}`));
  // Go matches field names case-insensitively.
  const fields = new Map(Object.entries(type.struct).map(([name, t]) => [name.toLowerCase(), t]));
  return entries.flatMap(([key, item]) => {
    const fieldType = fields.get(key.toLowerCase());
    return fieldType === undefined ? [] : goDecodeErrors(item, fieldType, `${path}.${key}`);
  });
}

/** api.ServiceEntry, the element of GET /v1/health/service/:name. */
export const SERVICE_ENTRY: GoType = {
  struct: {
    Node: {
      struct: {
        ID: 'string', Node: 'string', Address: 'string', Datacenter: 'string',
        TaggedAddresses: 'stringMap', Meta: 'stringMap', CreateIndex: 'uint', ModifyIndex: 'uint',
        Partition: 'string', PeerName: 'string',
      },
    },
    Service: {
      struct: {
        Kind: 'string', ID: 'string', Service: 'string', Tags: 'strings', Meta: 'stringMap', Port: 'int',
        Address: 'string', SocketPath: 'string',
        TaggedAddresses: { map: { struct: { Address: 'string', Port: 'int' } } },
        Weights: { struct: { Passing: 'int', Warning: 'int' } },
        EnableTagOverride: 'bool', CreateIndex: 'uint', ModifyIndex: 'uint', ContentHash: 'string',
        PeerName: 'string', Namespace: 'string', Partition: 'string', Datacenter: 'string',
      },
    },
    Checks: {
      list: {
        struct: {
          Node: 'string', CheckID: 'string', Name: 'string', Status: 'string', Notes: 'string', Output: 'string',
          ServiceID: 'string', ServiceName: 'string', ServiceTags: 'strings', Type: 'string',
          Namespace: 'string', Partition: 'string', ExposedPort: 'int', PeerName: 'string',
          CreateIndex: 'uint', ModifyIndex: 'uint',
          Definition: {
            struct: {
              HTTP: 'string', Header: 'stringListMap', Method: 'string', Body: 'string', TLSServerName: 'string',
              TLSSkipVerify: 'bool', TCP: 'string', TCPUseTLS: 'bool', UDP: 'string', GRPC: 'string',
              OSService: 'string', GRPCUseTLS: 'bool',
              Interval: 'duration', Timeout: 'duration', DeregisterCriticalServiceAfter: 'duration',
              IntervalDuration: 'duration', TimeoutDuration: 'duration', DeregisterCriticalServiceAfterDuration: 'duration',
            },
          },
        },
      },
    },
  },
};
