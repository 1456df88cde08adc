// The error catalog: every error meshctl raises on purpose has a stable code,
// and this file is the one place that maps a code to an HTTP status and a CLI
// exit code. README.md lists the codes; test/unit/errors.test.ts keeps the two
// in step.

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

interface CodeInfo {
  readonly status: number;
  readonly exit: number;
  readonly summary: string;
}

export const ERROR_CODES = {
  MESH_E_USAGE: { status: 400, exit: EXIT_USAGE, summary: 'a command was called with bad flags or arguments' },
  MESH_E_BAD_REQUEST: { status: 400, exit: EXIT_RUNTIME, summary: 'an API request was malformed or failed validation' },
  MESH_E_BODY_TOO_LARGE: { status: 413, exit: EXIT_RUNTIME, summary: 'an API request body was over its size limit' },
  MESH_E_ACL_NOT_FOUND: { status: 403, exit: EXIT_RUNTIME, summary: 'the token given is not known to the server' },
  MESH_E_PERMISSION_DENIED: { status: 403, exit: EXIT_RUNTIME, summary: 'the token lacks the permission the request needs' },
  MESH_E_NOT_FOUND: { status: 404, exit: EXIT_RUNTIME, summary: 'the named object does not exist' },
  MESH_E_METHOD_NOT_ALLOWED: { status: 405, exit: EXIT_RUNTIME, summary: 'the API path does not take that HTTP method' },
  MESH_E_CONFLICT: { status: 409, exit: EXIT_RUNTIME, summary: 'the write conflicts with the current state' },
  MESH_E_STORE: { status: 500, exit: EXIT_RUNTIME, summary: 'the durable store failed to commit; nothing was acknowledged' },
  MESH_E_INTERNAL: { status: 500, exit: EXIT_RUNTIME, summary: 'an unexpected internal error' },
  MESH_E_UNAVAILABLE: { status: 503, exit: EXIT_RUNTIME, summary: 'the server is shutting down or not ready' },
  MESH_E_SERVER_UNREACHABLE: { status: 502, exit: EXIT_RUNTIME, summary: 'the CLI could not reach the server' },
  MESH_E_DATA_DIR: { status: 500, exit: EXIT_RUNTIME, summary: 'the data directory cannot be used' },
  MESH_E_SERVER_UNVERIFIED: { status: 502, exit: EXIT_RUNTIME, summary: "the server's TLS certificate does not match the pinned CA" },
  MESH_E_NOT_ROOT: { status: 500, exit: EXIT_RUNTIME, summary: 'the command changes the host (iptables, users) and needs root' },
  MESH_E_IPTABLES: { status: 500, exit: EXIT_RUNTIME, summary: 'iptables is missing or refused the rules; nothing was left applied' },
  MESH_E_CHECK_FAILED: { status: 500, exit: EXIT_RUNTIME, summary: 'meshctl check found at least one failing check (the × lines say what and how to fix it)' },
  MESH_E_DEMO: { status: 500, exit: EXIT_RUNTIME, summary: 'meshctl demo could not build its hosts, agents or apps; everything it made was removed' },
  MESH_E_TOO_MANY: { status: 429, exit: EXIT_RUNTIME, summary: 'a bounded resource (such as tap sessions) is full; try again when one ends' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MeshError extends Error {
  readonly code: ErrorCode;
  /** What the operator can do about it; printed by the CLI after the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
    this.hint = options.hint;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

export function isMeshError(error: unknown): error is MeshError {
  return error instanceof MeshError;
}

export const badRequest = (message: string): MeshError => new MeshError('MESH_E_BAD_REQUEST', message);
export const notFound = (message: string): MeshError => new MeshError('MESH_E_NOT_FOUND', message);
