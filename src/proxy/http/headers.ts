// Header handling shared by both HTTP hops: hop-by-hop headers are not
// forwarded (RFC 9110 §7.6.1), including any named in Connection.

/** Headers a Connection token must never remove: the request's target, framing and credentials. */
const END_TO_END = new Set(['host', 'content-length', 'authorization', 'content-type', 'cookie', ':authority']);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'http2-settings']);

/** rawHeaders ([name, value, name, value…]) without hop-by-hop headers, as a flat list Node accepts. */
export function forwardableHeaders(raw: readonly string[], extraDrop: readonly string[] = []): string[] {
  // This runs four times per proxied request: the shared set is used as is unless
  // something must be added to it (extra names, or names listed in Connection).
  let drop: Set<string> = HOP_BY_HOP;
  const widen = (name: string) => {
    if (drop === HOP_BY_HOP) drop = new Set(HOP_BY_HOP);
    drop.add(name);
  };
  for (const name of extraDrop) widen(name);
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] as string).split(',')) {
        const name = token.trim().toLowerCase();
        // Connection may name hop-by-hop extensions, never what the request means end to end.
        if (!END_TO_END.has(name) && !HOP_BY_HOP.has(name)) widen(name);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!drop.has((raw[i] as string).toLowerCase())) out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

/** The value of a header in a raw list (first occurrence), case-insensitively. */
export function rawHeader(raw: readonly string[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === wanted) return raw[i + 1];
  return undefined;
}
