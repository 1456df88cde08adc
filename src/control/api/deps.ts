// What the API handlers share: the store and the server's own identity.

import type { Clock, Random } from '../../lib/clock.ts';
import type { TokenRegistry } from '../acl/tokens.ts';
import type { HealthMonitor } from '../catalog/monitor.ts';
import type { Store } from '../store/store.ts';

export interface ApiDeps {
  readonly store: Store;
  readonly monitor: HealthMonitor;
  readonly tokens: TokenRegistry;
  readonly random: Random;
  readonly clock: Clock;
  readonly datacenter: string;
  /** The server's own node: /v1/agent endpoints act on it. */
  readonly nodeName: string;
  readonly nodeId: string;
  /** host:port of this server's API, reported as the leader. */
  readonly advertise: string;
  readonly version: string;
}
