// Tap (`meshctl tap`, GET /v1/mesh/tap): what the operator asks to see, as
// the server publishes it to the agents, and the event lines that come back.
// The filter is validated once, here, by the CLI (before it calls) and by the
// server (for any other caller); the agents and the server match with the
// same function, so a line can never pass one side and fail the other.

/** Events per second one agent sends for one session; past it the agent counts drops. */
export const TAP_EVENTS_PER_SECOND = 100;
/** Sessions open at once on a server: each one costs every agent a filter pass per request. */
export const TAP_MAX_SESSIONS = 16;
/** A limit asked for above this is refused: a stream to watch, not an export. */
export const TAP_MAX_LIMIT = 100_000;

export interface TapFilter {
  service: string;
  /** '' for every path. */
  pathPrefix: string;
  /** Upper case; '' for every method. */
  method: string;
}

/** A session as the agents see it. */
export interface TapSession extends TapFilter {
  id: string;
}

/** GET /v1/mesh/tap/sessions answers this. */
export interface TapSessionsBody {
  sessions: TapSession[];
}

/** One sampled request, one NDJSON line of the stream. */
export interface TapEvent {
  /** ISO time the request started. */
  time: string;
  /** The node whose proxy saw it (set by the server from the agent's token check, never taken from the agent's word). */
  node: string;
  direction: 'inbound' | 'outbound';
  source: string;
  destination: string;
  method: string;
  path: string;
  status: number;
  latencyMs: number;
  endpoint: string;
  requestId: string;
  traceId?: string;
  /** The mesh's own answer (x-mesh-error cause), when it made one. */
  cause?: string;
}

/** What the agent posts: per session, the sampled events and how many it left out. */
export interface TapBatch {
  node: string;
  sessions: Array<{ id: string; events: Array<Omit<TapEvent, 'node'>>; dropped: number }>;
}

// RFC 9110 token characters: what a method may be made of.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Z]{1,32}$/;
const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The filter from the operator's words, or the reasons it is refused (all of them). */
export function parseTapFilter(input: { service?: string | null; pathPrefix?: string | null; method?: string | null }): { filter: TapFilter } | { errors: string[] } {
  const errors: string[] = [];
  const service = input.service ?? '';
  if (!SERVICE.test(service)) errors.push(service === '' ? 'a service to tap is required' : `"${service}" is not a service name (letters, digits, '-', '_', '.')`);
  const pathPrefix = input.pathPrefix ?? '';
  if (pathPrefix !== '' && (!pathPrefix.startsWith('/') || pathPrefix.length > 1024 || /[\s?#]/.test(pathPrefix))) {
    errors.push(`path prefix "${pathPrefix}" must start with '/' and hold no spaces, '?' or '#' (e.g. /users)`);
  }
  const method = (input.method ?? '').toUpperCase();
  if (method !== '' && !METHOD.test(method)) errors.push(`method "${input.method}" is not an HTTP method (e.g. GET)`);
  return errors.length > 0 ? { errors } : { filter: { service, pathPrefix, method } };
}

/** Whether a request to `destination` with this method and path is one the filter asks for. */
export function tapMatches(filter: TapFilter, destination: string, method: string, path: string): boolean {
  return destination === filter.service && (filter.method === '' || method === filter.method) && (filter.pathPrefix === '' || path.startsWith(filter.pathPrefix));
}
