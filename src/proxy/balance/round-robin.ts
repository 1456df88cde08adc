// round_robin: each endpoint in turn, skipping excluded ones.

import type { Balancer, Endpoint, PickContext } from './types.ts';

export class RoundRobin implements Balancer {
  readonly policy = 'round_robin' as const;
  private endpoints: readonly Endpoint[] = [];
  private next = 0;

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const candidate = this.endpoints[(this.next + i) % n] as Endpoint;
      if (exclude?.has(candidate.id)) continue;
      this.next = (this.next + i + 1) % n;
      return candidate;
    }
    return undefined;
  }

  onStart(): void {}
  onEnd(): void {}
}
