// The hop between two proxies. Every connection an outbound proxy opens to a
// peer's inbound listener starts with one line naming the destination service
// and the protocol that follows:
//
//   MESH/1 <service> <tcp|http|http2|grpc> [<instance-id>]\r\n
//
// The instance ID picks one of several instances of the service on that host.
// This is the one place the hop is framed, and where TLS will wrap it (SNI
// and ALPN will then carry the same two facts). The parser is strict: a peer
// that sends anything else is closed, never guessed at.

export const HOP_PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'] as const;
export type HopProtocol = (typeof HOP_PROTOCOLS)[number];

export interface HopHeader {
  service: string;
  protocol: HopProtocol;
  instance?: string;
}

const MAX_PREAMBLE = 128;
const LINE = /^MESH\/1 ([a-zA-Z0-9][a-zA-Z0-9-]{0,63}) (tcp|http|http2|grpc)(?: ([a-zA-Z0-9][a-zA-Z0-9-]{0,63}))?$/;

export function encodeHop(header: HopHeader): Buffer {
  return Buffer.from(`MESH/1 ${header.service} ${header.protocol}${header.instance ? ` ${header.instance}` : ''}\r\n`, 'latin1');
}

export type HopParse =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  | { state: 'ok'; header: HopHeader; rest: Buffer };

/** Parses the preamble from the bytes received so far. */
export function parseHop(data: Buffer): HopParse {
  const end = data.indexOf('\r\n');
  if (end < 0) return data.length > MAX_PREAMBLE ? { state: 'invalid', reason: 'no preamble line within 128 bytes' } : { state: 'incomplete' };
  const match = LINE.exec(data.subarray(0, end).toString('latin1'));
  if (!match) return { state: 'invalid', reason: 'malformed preamble' };
  return { state: 'ok', header: { service: match[1] as string, protocol: match[2] as HopProtocol, ...(match[3] ? { instance: match[3] } : {}) }, rest: data.subarray(end + 2) };
}
