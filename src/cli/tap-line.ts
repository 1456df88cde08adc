// How `meshctl tap` prints an event: one line, key=value, in the order an
// operator reads a request (who saw it, who called whom, what, how it went),
// close to `linkerd viz tap` so its habits carry over.

import { TAP_EVENTS_PER_SECOND, type TapEvent } from '../config/tap.ts';

export function formatTapLine(e: TapEvent): string {
  const parts = [
    'req',
    `id=${e.requestId || '-'}`,
    `proxy=${e.direction}`,
    `node=${e.node}`,
    `src=${e.source || '-'}`,
    `dst=${e.destination}`,
    `endpoint=${e.endpoint || '-'}`,
    `:method=${e.method}`,
    `:path=${e.path}`,
    `status=${e.status}`,
    `latency=${formatLatency(e.latencyMs)}`,
  ];
  if (e.cause) parts.push(`mesh-error=${e.cause}`);
  return parts.join(' ');
}

/** Whole milliseconds from 10 ms up; one decimal below, where the tenths still say something. */
export function formatLatency(ms: number): string {
  return ms >= 10 ? `${Math.round(ms)}ms` : `${Number(ms.toFixed(1))}ms`;
}

export function formatDroppedLine(count: number): string {
  return `# ${count} matching request(s) not shown: at most ${TAP_EVENTS_PER_SECOND}/s per proxy are sampled, or the terminal fell behind`;
}
