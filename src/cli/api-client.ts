// The CLI's HTTP client for the server API. Errors come back as MeshErrors
// that say what failed and what to do. node:http rather than fetch: fetch
// refuses "bad ports" (6000, 6667, ...) that a server may well listen on.

import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MeshError } from '../lib/errors.ts';
import { ERROR_CODE_HEADER, ERROR_HINT_HEADER, decodeHint } from '../lib/http/error-hint.ts';
import { SOURCE_TEXT, trustWayOut, type Target } from './target.ts';
import { serverTlsOptions, type ServerTls } from '../lib/tls/server-trust.ts';

export interface ApiResponse<T> {
  status: number;
  body: T;
  index: number;
  /** The server left out entries this token may not read (X-Consul-Results-Filtered-By-ACLs). */
  filteredByAcls: boolean;
}

export class ApiClient {
  private readonly target: Target;

  constructor(target: Target) {
    this.target = target;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.target.token) headers['X-Consul-Token'] = this.target.token;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    let res: RawResponse;
    try {
      res = await send(this.target.url + path, method, headers, payload, this.target.tls);
    } catch (error) {
      throw this.connectError(error as NodeJS.ErrnoException);
    }
    const text = res.body;
    if (res.status < 200 || res.status > 299) throw this.statusError(res.status, text, res.headers);
    let parsed: unknown = text;
    if (res.contentType.includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, index: res.index, filteredByAcls: res.filteredByAcls };
  }

  /**
   * A streamed GET (tap): the response once its headers say 2xx, to be read as it comes;
   * aborting `signal` ends it. Failures are the same MeshErrors as request()'s.
   */
  async stream(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    const headers: Record<string, string> = this.target.token ? { 'X-Consul-Token': this.target.token } : {};
    const secure = this.target.url.startsWith('https:');
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(this.target.url + path, { method: 'GET', headers, signal, ...(secure && this.target.tls ? serverTlsOptions(this.target.tls) : {}) }, resolve);
      req.on('error', (error) => reject(this.connectError(error as NodeJS.ErrnoException)));
      req.end();
    });
    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode <= 299) return res;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    throw this.statusError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers);
  }

  private connectError(error: NodeJS.ErrnoException): MeshError {
    const code = error.code;
    if (this.target.url.startsWith('https:') && /CERT|SSL|TLS|ALTNAME|SELF_SIGNED|VERIFY/.test(code ?? '')) {
      return new MeshError('MESH_E_SERVER_UNVERIFIED', `cannot verify the server at ${this.target.url}: ${code}`, {
        hint: `set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show on the server), ${trustWayOut(this.target)}`,
      });
    }
    return new MeshError('MESH_E_SERVER_UNREACHABLE', `cannot reach the meshctl server at ${this.target.url}: ${code ?? error.message}`, {
      hint: 'check that `meshctl server` runs there, or pass --server ADDR (or set MESHCTL_SERVER)',
    });
  }

  private statusError(status: number, text: string, headers: IncomingHttpHeaders): MeshError {
    const reason = text.trim() || `HTTP ${status}`;
    const hintHeader = headers[ERROR_HINT_HEADER.toLowerCase()];
    const hint = typeof hintHeader === 'string' && hintHeader !== '' ? decodeHint(hintHeader) : undefined;
    const code = status === 404 ? 'MESH_E_NOT_FOUND' : status === 400 ? 'MESH_E_BAD_REQUEST' : status === 409 ? 'MESH_E_CONFLICT' : status === 429 ? 'MESH_E_TOO_MANY' : 'MESH_E_INTERNAL';
    if (status === 403) {
      // The server's hint names the permission and the token that has it; a server that gives none gets the general one.
      return new MeshError(reason === 'ACL not found' ? 'MESH_E_ACL_NOT_FOUND' : 'MESH_E_PERMISSION_DENIED', `the server refused the token: ${reason}`, {
        hint: hint ?? (this.target.token ? 'pass a token with the needed policy (--token or MESHCTL_TOKEN)' : 'pass a token with --token or MESHCTL_TOKEN'),
      });
    }
    // A meshctl server stamps every answer with X-Consul-Default-ACL-Policy and every error with
    // X-Mesh-Error-Code: an answer with neither comes from something else listening at that address.
    // (A 403 is about the token whoever answers: it keeps its own hint.)
    if (headers['x-consul-default-acl-policy'] === undefined && headers[ERROR_CODE_HEADER.toLowerCase()] === undefined) {
      return new MeshError(code, `the server answered ${status}: ${reason}`, {
        hint: `${this.target.url}, ${SOURCE_TEXT[this.target.source]}, may not be a meshctl server: check --server or MESHCTL_SERVER, and the port: 8500 plain HTTP, 8501 TLS`,
      });
    }
    return new MeshError(code, `the server answered ${status}: ${reason}`, { hint });
  }
}

interface RawResponse {
  status: number;
  body: string;
  contentType: string;
  headers: IncomingHttpHeaders;
  index: number;
  filteredByAcls: boolean;
}

function send(url: string, method: string, headers: Record<string, string>, payload: string | undefined, tls: ServerTls | undefined): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const options = { method, headers, timeout: 30_000, ...(secure && tls ? serverTlsOptions(tls) : {}) };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: String(res.headers['content-type'] ?? ''),
          headers: res.headers,
          index: Number(res.headers['x-consul-index'] ?? 0),
          filteredByAcls: res.headers['x-consul-results-filtered-by-acls'] === 'true',
        }),
      );
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out after 30s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}
