// The two active health probes, shared by the server (checks registered on
// its own node) and the host agent. HTTP: 2xx passes, 429 warns, anything
// else (redirects included: they are not followed) is critical. TCP: a
// connection that opens passes.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { parseHostPort, type HostPortRules } from './net/host-port.ts';

/** The same three states as a Consul check. */
export type HealthStatus = 'passing' | 'warning' | 'critical';

export interface ProbeResult {
  status: HealthStatus;
  output: string;
}

const OUTPUT_MAX = 4096;

export interface HttpProbe {
  url: string;
  method?: string;
  headers?: Record<string, string[]>;
  body?: string;
  timeoutMs: number;
  tlsSkipVerify?: boolean;
}

export function probeHttp(probe: HttpProbe): Promise<ProbeResult> {
  const method = probe.method || 'GET';
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(probe.url);
    } catch {
      resolve({ status: 'critical', output: `invalid URL ${probe.url}` });
      return;
    }
    const headers: Record<string, string | string[]> = { 'User-Agent': 'meshctl health check', Accept: 'text/plain, text/*, */*' };
    for (const [name, values] of Object.entries(probe.headers ?? {})) headers[name] = values;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, timeout: probe.timeoutMs, rejectUnauthorized: !probe.tlsSkipVerify });
    const prefix = `HTTP ${method} ${probe.url}`;
    req.on('timeout', () => req.destroy(new Error(`timed out after ${probe.timeoutMs}ms`)));
    req.on('error', (error) => resolve({ status: 'critical', output: `${prefix}: ${error.message}` }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < OUTPUT_MAX) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', (error) => resolve({ status: 'critical', output: `${prefix}: ${error.message}` }));
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).subarray(0, OUTPUT_MAX).toString('utf8');
        const status: HealthStatus = code >= 200 && code < 300 ? 'passing' : code === 429 ? 'warning' : 'critical';
        resolve({ status, output: `${prefix}: ${code} ${res.statusMessage ?? ''} Output: ${body}` });
      });
    });
    req.end(probe.body);
  });
}

/** A TCP check's target: a host name (looked up at each probe) or an IP, IPv6 in brackets, and a port. */
export const TCP_CHECK_ADDR: HostPortRules = { hosts: 'name', minPort: 1 };

export function probeTcp(address: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const parsed = parseHostPort(address, TCP_CHECK_ADDR);
    if (!parsed.ok) {
      resolve({ status: 'critical', output: `TCP connect ${address}: not a host:port address (${parsed.reason})` });
      return;
    }
    const { host, port } = parsed.value;
    const socket = connect({ host, port });
    const done = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ status: 'critical', output: `TCP connect ${address}: timed out after ${timeoutMs}ms` }));
    socket.on('connect', () => done({ status: 'passing', output: `TCP connect ${address}: Success` }));
    socket.on('error', (error) => done({ status: 'critical', output: `TCP connect ${address}: ${error.message}` }));
  });
}
