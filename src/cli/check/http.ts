// The one HTTP GET the checks make, to the server and to the agent's admin
// API. Unlike the CLI's ApiClient it never throws: a check wants to know
// which way a request went wrong (refused, TLS, timeout, an HTTP status),
// and it keeps the Date header and the timing for the clock-skew check.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../lib/clock.ts';
import { serverTlsOptions, type ServerTls } from '../../lib/tls/server-trust.ts';

export type HttpOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly body: string; readonly date: string | undefined; readonly sentAt: number; readonly receivedAt: number }
  | { readonly kind: 'error'; readonly code: string; readonly tls: boolean };

export interface GetOptions {
  readonly headers?: Record<string, string>;
  readonly tls?: ServerTls | undefined;
  readonly timeoutMs?: number;
}

/** GET url; what came back, or why nothing did. */
export type HttpGet = (url: string, options?: GetOptions) => Promise<HttpOutcome>;

const TLS_CODE = /CERT|SSL|TLS|ALTNAME|SELF_SIGNED|VERIFY|EPROTO/;

export function makeHttpGet(clock: Pick<Clock, 'now'>): HttpGet {
  return (url, options = {}) =>
    new Promise((resolve) => {
      const secure = url.startsWith('https:');
      let tlsOptions = {};
      try {
        if (secure && options.tls) tlsOptions = serverTlsOptions(options.tls);
      } catch (error) {
        return resolve({ kind: 'error', code: (error as Error).message, tls: true });
      }
      const sentAt = clock.now();
      const req = (secure ? httpsRequest : httpRequest)(url, { method: 'GET', headers: options.headers ?? {}, timeout: options.timeoutMs ?? 5_000, ...tlsOptions }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', code: error.code ?? error.message, tls: false }));
        res.on('end', () =>
          resolve({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), date: res.headers.date, sentAt, receivedAt: clock.now() }),
        );
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: `ETIMEDOUT (no answer in ${(options.timeoutMs ?? 5_000) / 1000} s)` })));
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? error.message;
        resolve({ kind: 'error', code, tls: secure && TLS_CODE.test(code) });
      });
      req.end();
    });
}

/** The body as JSON, or undefined when it is not JSON. */
export function jsonOf<T>(outcome: HttpOutcome): T | undefined {
  if (outcome.kind !== 'response') return undefined;
  try {
    return JSON.parse(outcome.body) as T;
  } catch {
    return undefined;
  }
}
