// The one normalization of an HTTP request target, so that intentions judge
// the path the service will see: the proxy matches L7 permissions against
// `path` and forwards exactly `forward`, never the raw target. Otherwise
// `/%61dmin`, `//admin` or `/x/../admin` would pass a deny on /admin and
// reach /admin all the same.
//
// - The fragment (from '#') is dropped; the query (from '?') is kept as it
//   came, unjudged: permissions look at paths, headers and methods only.
// - Percent-encoded unreserved characters (A-Z a-z 0-9 - . _ ~) are decoded;
//   every other escape is kept, with uppercase hex.
// - '.' and '..' segments are resolved (RFC 3986 remove_dot_segments, '..'
//   stops at the root) and repeated slashes merged. A trailing slash stays.
// - Refused: a target not starting with '/', bytes outside printable ASCII
//   (controls, NUL, space, non-ASCII: clients send those percent-encoded),
//   a raw backslash, an invalid escape, and %2F, %5C (an encoded slash or
//   backslash: services disagree on whether it separates segments) and %00.
// - Case is kept: paths are case-sensitive, /ADMIN is not /admin.

export type NormalizedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string; readonly forward: string }
  | { readonly ok: false; readonly reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export function normalizeRequestTarget(target: string): NormalizedTarget {
  if (!target.startsWith('/')) return refuse(`the request target must start with "/", got ${JSON.stringify(target.slice(0, 40))}`);
  const bad = /[^\x21-\x7e]/.exec(target);
  if (bad) return refuse(`the request target holds a character outside printable ASCII (code ${bad[0].charCodeAt(0)}) at offset ${bad.index}`);
  const hash = target.indexOf('#');
  const noFragment = hash === -1 ? target : target.slice(0, hash);
  const mark = noFragment.indexOf('?');
  const rawPath = mark === -1 ? noFragment : noFragment.slice(0, mark);
  const query = mark === -1 ? '' : noFragment.slice(mark + 1);

  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i] as string;
    if (c === '\\') return refuse('the path holds a backslash');
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return refuse(`the path holds an invalid percent-escape "%${hex}"`);
    const upper = hex.toUpperCase();
    if (upper === '2F' || upper === '5C') return refuse(`the path holds an encoded ${upper === '2F' ? 'slash' : 'backslash'} (%${hex})`);
    if (upper === '00') return refuse('the path holds an encoded NUL (%00)');
    const char = String.fromCharCode(parseInt(hex, 16));
    decoded += UNRESERVED.test(char) ? char : `%${upper}`;
    i += 2;
  }

  const segments = decoded.slice(1).split('/');
  const kept: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') kept.pop();
    else kept.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailingSlash = kept.length > 0 && (last === '' || last === '.' || last === '..');
  const path = `/${kept.join('/')}${trailingSlash ? '/' : ''}`;
  return { ok: true, path, query, forward: mark === -1 ? path : `${path}?${query}` };
}

const refuse = (reason: string): NormalizedTarget => ({ ok: false, reason });

/** The request target without its query (and a fragment, which a client should not send but may): what read-only views may show. */
export function pathOnly(target: string): string {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return target.slice(0, i);
  }
  return target;
}
