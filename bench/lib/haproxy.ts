// The HAProxy configs the benchmarks measure meshctl against: one proxy from
// `listen` to `to`, HTTP keep-alive with connection reuse, one thread, and
// optionally the mesh's hop TLS (TLS 1.3, the mesh CA, ALPN http/1.1, both
// sides verified) on the bind (`bindTls`: it terminates the hop) or on the
// server line (`serverTls`: it opens the hop, SNI app).

export interface HaproxyTls {
  /** The certificate and its key, concatenated (HAProxy's crt file). */
  crt: string;
  ca: string;
}

export interface HaproxyOptions {
  /** The first line's comment: which benchmark, which role. */
  comment: string;
  listen: number;
  to: number;
  bindTls?: HaproxyTls;
  serverTls?: HaproxyTls;
  /** A stats socket, for `show info` (CumSslConns). */
  statsSocket?: string;
  /** Client, server and keep-alive timeouts. Default 120. */
  timeoutSeconds?: number;
}

const hopTls = (tls: HaproxyTls) => ` ssl crt ${tls.crt} ca-file ${tls.ca} verify required`;

export function haproxyConfig(o: HaproxyOptions): string {
  const timeout = `${o.timeoutSeconds ?? 120}s`;
  const bind = o.bindTls ? `${hopTls(o.bindTls)} alpn http/1.1 ssl-min-ver TLSv1.3` : '';
  const server = o.serverTls ? `${hopTls(o.serverTls)} sni str(app) alpn http/1.1 ssl-min-ver TLSv1.3` : '';
  return `# ${o.comment}
global
  nbthread 1
  maxconn 4096
${o.statsSocket ? `  stats socket ${o.statsSocket} level admin\n` : ''}defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client ${timeout}
  timeout server ${timeout}
  timeout http-keep-alive ${timeout}
frontend fe
  bind 127.0.0.1:${o.listen}${bind}
  default_backend be
backend be
  server app 127.0.0.1:${o.to}${server}
`;
}
