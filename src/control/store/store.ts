// The control plane's store: a revisioned key-value model, the same as etcd's.
// Every committed transaction gets the next revision; every key remembers the
// revision that created it and the one that last changed it. Readers watch
// "topics" (a key is its own topic; the catalog adds derived ones such as
// "t/service/web") and wait for a topic's revision to pass the one they hold.
// That is what X-Consul-Index is, and it maps one-to-one onto etcd revisions
// and watches when several servers share an etcd cluster.

export interface StoredEntry<T = unknown> {
  readonly key: string;
  readonly value: T;
  readonly createRevision: number;
  readonly modRevision: number;
}

/** What a reader waits on: exact topics, and topic prefixes. */
export interface WatchSpec {
  readonly exact?: readonly string[];
  readonly prefixes?: readonly string[];
}

/** A read-write view inside one transaction. Writes are visible to later reads in it. */
export interface Txn {
  /** The revision this transaction commits as. */
  readonly revision: number;
  get<T>(key: string): StoredEntry<T> | undefined;
  list<T>(prefix: string): StoredEntry<T>[];
  put(key: string, value: unknown): void;
  /** Returns whether the key existed. */
  delete(key: string): boolean;
  /** Marks a derived topic as changed at this revision. */
  touch(topic: string): void;
}

export interface CommitResult<R> {
  readonly revision: number;
  readonly result: R;
  /** False when the transaction wrote nothing (its revision was not used). */
  readonly changed: boolean;
}

export interface Store {
  /** The revision of the last committed transaction. */
  readonly revision: number;
  get<T>(key: string): StoredEntry<T> | undefined;
  list<T>(prefix: string): StoredEntry<T>[];
  /**
   * Runs fn against the current state and commits what it wrote. The promise
   * resolves only once the write is durable. fn must be synchronous; when it
   * throws, nothing it wrote is kept and the promise rejects with its error.
   */
  transact<R>(fn: (txn: Txn) => R): Promise<CommitResult<R>>;
  /** The highest revision at which any topic matching spec changed (0 if never). */
  topicIndex(spec: WatchSpec): number;
  /**
   * Resolves true as soon as topicIndex(spec) > afterIndex, false when timeoutMs
   * passes or the signal aborts first.
   */
  waitForChange(spec: WatchSpec, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  close(): void;
}

export function matchesSpec(spec: WatchSpec, topic: string): boolean {
  if (spec.exact?.includes(topic)) return true;
  if (spec.prefixes) {
    for (const prefix of spec.prefixes) if (topic.startsWith(prefix)) return true;
  }
  return false;
}
