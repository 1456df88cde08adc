// The catalog entry each agent registers for itself, so that Prometheus finds
// every agent's metrics with consul_sd_configs (or the server's http_sd
// endpoint). It is the mesh's own bookkeeping, not a mesh service: no virtual
// IP, no certificate, no proxy listener, never an upstream. Its name is
// reserved; this file is the one place that says which entries are the mesh's own.

export const AGENT_SERVICE = 'meshctl-agent';
/** Service meta marking an entry as the mesh's own (for relabelling and for readers that list services). */
export const MESH_INTERNAL_META = 'meshctl-internal';
export const AGENT_SERVICE_TAGS: readonly string[] = ['meshctl', 'metrics'];
export const DEFAULT_METRICS_PORT = 15090;

/** Whether a catalog service name is the mesh's own (reserved), not an application's. */
export const isMeshInternalService = (name: string): boolean => name === AGENT_SERVICE;
