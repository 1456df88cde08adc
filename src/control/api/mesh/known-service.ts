// A read or a tap about one service answers 404 when the catalog has no
// instance of it: a misspelt name must not look like a service with no
// traffic (an empty table, or a tap that waits forever).

import { MeshError } from '../../../lib/errors.ts';
import { instancesInStore } from '../../catalog/catalog.ts';
import type { Store } from '../../store/store.ts';

export function requireKnownService(store: Store, name: string): void {
  if (instancesInStore(store, name).length > 0) return;
  throw new MeshError('MESH_E_NOT_FOUND', `no service "${name}": it has no instance in the catalog`, { hint: 'meshctl services lists the services; check the name' });
}
