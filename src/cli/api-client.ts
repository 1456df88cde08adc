// The CLI's HTTP client for the server API. Errors come back as MeshErrors
// that say what failed and what to do.

import { MeshError } from '../lib/errors.ts';
import type { Target } from './target.ts';

export interface ApiResponse<T> {
  status: number;
  body: T;
  index: number;
}

export class ApiClient {
  private readonly target: Target;

  constructor(target: Target) {
    this.target = target;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (this.target.token) headers['X-Consul-Token'] = this.target.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.target.url + path, {
        method,
        headers,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new MeshError('MESH_E_SERVER_UNREACHABLE', `cannot reach the meshctl server at ${this.target.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {
        hint: 'check that `meshctl server` runs there, or pass --server ADDR (or set MESHCTL_SERVER)',
      });
    }
    const text = await res.text();
    if (!res.ok) {
      const reason = text.trim() || res.statusText;
      if (res.status === 403) {
        throw new MeshError(reason === 'ACL not found' ? 'MESH_E_ACL_NOT_FOUND' : 'MESH_E_PERMISSION_DENIED', `the server refused the token: ${reason}`, {
          hint: this.target.token ? 'pass a token with the needed policy (--token or MESHCTL_TOKEN)' : 'pass a token with --token or MESHCTL_TOKEN',
        });
      }
      const code = res.status === 404 ? 'MESH_E_NOT_FOUND' : res.status === 400 ? 'MESH_E_BAD_REQUEST' : 'MESH_E_INTERNAL';
      throw new MeshError(code, `the server answered ${res.status}: ${reason}`);
    }
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, index: Number(res.headers.get('x-consul-index') ?? 0) };
  }
}
