// Tap (`meshctl tap`, GET /v1/mesh/tap): what the operator asks to see, as
// the server publishes it to the agents, and the event lines that come back.
// The filter is validated once, here, by the CLI (before it calls) and by the
// server (for any other caller); the agents and the server match with the
// same function, so a line can never pass one side and fail the other.

/** Events per second one agent sends for one session; past it the agent counts drops. */
export const TAP_EVENTS_PER_SECOND = 100;
/** Sessions open at once on a server: each one costs every agent a filter pass per request. */
export const TAP_MAX_SESSIONS = 16;
/** Sessions one token may hold at once, so that one token (an agent's) cannot take every slot. */
export const TAP_MAX_SESSIONS_PER_TOKEN = 4;
/** Slots only management tokens (the operators') may take: the others together hold at most TAP_MAX_SESSIONS minus these. */
export const TAP_SESSIONS_RESERVED_FOR_MANAGEMENT = 4;
/** Longest text of an event line: ids, endpoints, causes; and paths. Longer ones are cut and marked, never left out. */
export const TAP_TEXT_CHARS = 256;
export const TAP_PATH_CHARS = 2048;
/** Ends a cut text, so that a reader knows there was more. */
export const TAP_CUT_MARK = '…';
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

/**
 * `text` within `max` characters, ending with TAP_CUT_MARK when it was cut. A caller who sends a
 * 10 kB request id must still show up in tap (truncated), not vanish from it.
 */
export function clipTapText(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - TAP_CUT_MARK.length) + TAP_CUT_MARK;
}

/** Whether a request to `destination` with this method and path is one the filter asks for. */
export function tapMatches(filter: TapFilter, destination: string, method: string, path: string): boolean {
  return destination === filter.service && (filter.method === '' || method === filter.method) && (filter.pathPrefix === '' || path.startsWith(filter.pathPrefix));
}
