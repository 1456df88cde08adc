// /v1/status/*: open to all, as in Consul; clients use them to find a live server.

import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

export function addStatusRoutes(router: Router<Handler>, deps: ApiDeps): void {
  router.add('GET', '/v1/status/leader', () => ({ json: deps.advertise }));
  router.add('GET', '/v1/status/peers', () => ({ json: [deps.advertise] }));
}
