// Where catalog records live in the store, and the derived topics that blocking
// queries wait on. A topic is touched whenever a result that depends on it
// could change, so a watcher of service A is never woken by service B.

export const NODE_PREFIX = 'catalog/node/';
export const SERVICE_PREFIX = 'catalog/service/';
export const CHECK_PREFIX = 'catalog/check/';

export const nodeKey = (node: string): string => `${NODE_PREFIX}${encode(node)}`;
export const serviceKey = (node: string, id: string): string => `${SERVICE_PREFIX}${encode(node)}/${encode(id)}`;
export const servicePrefixOf = (node: string): string => `${SERVICE_PREFIX}${encode(node)}/`;
export const checkKey = (node: string, id: string): string => `${CHECK_PREFIX}${encode(node)}/${encode(id)}`;
export const checkPrefixOf = (node: string): string => `${CHECK_PREFIX}${encode(node)}/`;

export const topics = {
  /** The node list (/v1/catalog/nodes). */
  nodes: 't/nodes',
  /** The service-name-to-tags map (/v1/catalog/services). */
  services: 't/services',
  /** Everything about one service's instances, their checks and their nodes. */
  service: (name: string): string => `t/service/${name}`,
  /** Everything registered on one node. */
  node: (name: string): string => `t/node/${name}`,
  /** Any check's state (/v1/health/state). */
  checks: 't/checks',
} as const;

// Names may hold '/', which would otherwise break prefix scans by node.
function encode(part: string): string {
  return encodeURIComponent(part);
}
