// The embedded store: node:sqlite (built into Node 24, no native build) as a
// durable log under --data-dir, with the whole state mirrored in memory for
// reads. Writes are group-committed: every transaction queued in the same turn
// of the event loop is applied in one SQLite transaction (one fsync), each
// under its own savepoint, so one failing transaction does not take its
// neighbours down. Nothing is acknowledged before COMMIT returns.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { MeshError } from '../../lib/errors.ts';
import { matchesSpec, type CommitResult, type Store, type StoredEntry, type Txn, type WatchSpec } from './store.ts';

interface Pending {
  run: (txn: Txn) => unknown;
  resolve: (result: CommitResult<unknown>) => void;
  reject: (error: unknown) => void;
}

interface Waiter {
  spec: WatchSpec;
  /** Re-checks the index and resolves the wait when it moved past the reader's. */
  wake: () => void;
  /** Ends the wait without a change (store closing). */
  cancel: () => void;
}

type Undo = () => void;

/** At most this many list() prefixes are cached at once (past it, the cache starts afresh). */
const LIST_CACHE_MAX = 1024;

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for --dev. */
  path: string;
}

export class SqliteStore implements Store {
  private readonly db: DatabaseSync;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly topics = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  /**
   * list() results by prefix, each dropped when a key under it changes. Every
   * request resolves its token with list('acl/token/'), and one change wakes
   * every watcher of a topic at once, each re-reading the same prefixes (all
   * services, a node's checks): without this, each of those reads scanned and
   * sorted the whole store (1,000 health watchers over a 20k-instance catalog
   * held the event loop for ~11 s, and registrations slowed as it grew).
   */
  private readonly listCache = new Map<string, readonly StoredEntry[]>();
  private queue: Pending[] = [];
  private flushScheduled = false;
  private currentRevision = 0;
  private closed = false;

  private readonly putEntry: StatementSync;
  private readonly deleteEntry: StatementSync;
  private readonly putTopic: StatementSync;
  private readonly putRevision: StatementSync;

  constructor(options: SqliteStoreOptions) {
    try {
      this.db = new DatabaseSync(options.path);
      if (options.path !== ':memory:') {
        this.db.exec('PRAGMA journal_mode = WAL');
        // FULL: a commit is on disk (fsync of the WAL) before it returns.
        this.db.exec('PRAGMA synchronous = FULL');
        // One server per data dir: a second one fails at its first write lock.
        this.db.exec('PRAGMA locking_mode = EXCLUSIVE');
      }
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL,
          create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS topics (topic TEXT PRIMARY KEY, rev INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      `);
      // Take the exclusive lock now, so a second server on the same dir fails at start.
      this.db.exec('BEGIN IMMEDIATE; COMMIT;');
    } catch (error) {
      throw new MeshError('MESH_E_DATA_DIR', `cannot open the store at ${options.path}: ${(error as Error).message}`, {
        hint: 'check that no other meshctl server uses this --data-dir and that the directory is writable',
        cause: error,
      });
    }
    this.putEntry = this.db.prepare(
      'INSERT INTO entries (key, value, create_rev, mod_rev) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev',
    );
    this.deleteEntry = this.db.prepare('DELETE FROM entries WHERE key = ?');
    this.putTopic = this.db.prepare(
      'INSERT INTO topics (topic, rev) VALUES (?, ?) ON CONFLICT(topic) DO UPDATE SET rev = excluded.rev',
    );
    this.putRevision = this.db.prepare(
      "INSERT INTO meta (name, value) VALUES ('revision', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    );
    this.load();
  }

  private load(): void {
    for (const row of this.db.prepare('SELECT key, value, create_rev, mod_rev FROM entries').iterate()) {
      const key = row.key as string;
      this.entries.set(key, {
        key,
        value: JSON.parse(row.value as string),
        createRevision: Number(row.create_rev),
        modRevision: Number(row.mod_rev),
      });
    }
    for (const row of this.db.prepare('SELECT topic, rev FROM topics').iterate()) {
      this.topics.set(row.topic as string, Number(row.rev));
    }
    const meta = this.db.prepare("SELECT value FROM meta WHERE name = 'revision'").get();
    this.currentRevision = meta ? Number(meta.value) : 0;
  }

  get revision(): number {
    return this.currentRevision;
  }

  get<T>(key: string): StoredEntry<T> | undefined {
    return this.entries.get(key) as StoredEntry<T> | undefined;
  }

  list<T>(prefix: string): StoredEntry<T>[] {
    let cached = this.listCache.get(prefix);
    if (!cached) {
      const out: StoredEntry[] = [];
      for (const [key, entry] of this.entries) if (key.startsWith(prefix)) out.push(entry);
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      // Bounded: many distinct prefixes read between two writes start it afresh.
      if (this.listCache.size >= LIST_CACHE_MAX) this.listCache.clear();
      this.listCache.set(prefix, out);
      cached = out;
    }
    return cached.slice() as StoredEntry<T>[];
  }

  /** Every change to entries goes through these two, so no list() result outlives a change under its prefix. */
  private setEntry(key: string, entry: StoredEntry): void {
    this.entries.set(key, entry);
    this.dropListsOver(key);
  }

  private removeEntry(key: string): void {
    this.entries.delete(key);
    this.dropListsOver(key);
  }

  private dropListsOver(key: string): void {
    for (const prefix of this.listCache.keys()) if (key.startsWith(prefix)) this.listCache.delete(prefix);
  }

  transact<R>(fn: (txn: Txn) => R): Promise<CommitResult<R>> {
    if (this.closed) return Promise.reject(new MeshError('MESH_E_UNAVAILABLE', 'the store is closed'));
    return new Promise<CommitResult<R>>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (r: CommitResult<unknown>) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;

    const undo: Undo[] = [];
    const touched = new Set<string>();
    const outcomes: Array<{ ok: true; value: CommitResult<unknown> } | { ok: false; error: unknown }> = [];
    const startRevision = this.currentRevision;

    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const pending of batch) pending.reject(storeError(error));
      return;
    }
    for (const pending of batch) {
      const revision = this.currentRevision + 1;
      const txnUndo: Undo[] = [];
      const txnTopics = new Set<string>();
      this.db.exec('SAVEPOINT txn');
      try {
        const txn = this.makeTxn(revision, txnUndo, txnTopics);
        const result = pending.run(txn);
        for (const topic of txnTopics) {
          const previous = this.topics.get(topic);
          this.topics.set(topic, revision);
          txnUndo.push(() => (previous === undefined ? this.topics.delete(topic) : this.topics.set(topic, previous)));
          this.putTopic.run(topic, revision);
        }
        this.db.exec('RELEASE txn');
        const changed = txnTopics.size > 0;
        if (changed) this.currentRevision = revision;
        for (const topic of txnTopics) touched.add(topic);
        undo.push(...txnUndo);
        outcomes.push({ ok: true, value: { revision: changed ? revision : this.currentRevision, result, changed } });
      } catch (error) {
        this.db.exec('ROLLBACK TO txn; RELEASE txn');
        for (let i = txnUndo.length - 1; i >= 0; i--) txnUndo[i]!();
        outcomes.push({ ok: false, error });
      }
    }
    try {
      if (this.currentRevision !== startRevision) this.putRevision.run(this.currentRevision);
      this.db.exec('COMMIT');
    } catch (error) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // The transaction may already be gone; the memory rollback below is what matters.
      }
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      this.currentRevision = startRevision;
      for (const pending of batch) pending.reject(storeError(error));
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
    if (touched.size > 0) this.notify(touched);
  }

  private makeTxn(revision: number, undo: Undo[], touched: Set<string>): Txn {
    const store = this;
    return {
      revision,
      get: (key) => store.get(key),
      list: (prefix) => store.list(prefix),
      put(key, value) {
        const previous = store.entries.get(key);
        const entry: StoredEntry = {
          key,
          value,
          createRevision: previous ? previous.createRevision : revision,
          modRevision: revision,
        };
        store.putEntry.run(key, JSON.stringify(value), entry.createRevision, revision);
        store.setEntry(key, entry);
        undo.push(() => (previous ? store.setEntry(key, previous) : store.removeEntry(key)));
        touched.add(key);
      },
      delete(key) {
        const previous = store.entries.get(key);
        if (!previous) return false;
        store.deleteEntry.run(key);
        store.removeEntry(key);
        undo.push(() => store.setEntry(key, previous));
        // The key's topic outlives it, as a tombstone: an index over a prefix
        // still moves forward when a key under it is deleted.
        touched.add(key);
        return true;
      },
      touch(topic) {
        touched.add(topic);
      },
    };
  }

  topicIndex(spec: WatchSpec): number {
    let max = 0;
    for (const topic of spec.exact ?? []) {
      const rev = this.topics.get(topic);
      if (rev !== undefined && rev > max) max = rev;
    }
    if (spec.prefixes && spec.prefixes.length > 0) {
      for (const [topic, rev] of this.topics) {
        if (rev > max && spec.prefixes.some((p) => topic.startsWith(p))) max = rev;
      }
    }
    return max;
  }

  waitForChange(spec: WatchSpec, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.topicIndex(spec) > afterIndex) return Promise.resolve(true);
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (changed: boolean) => {
        this.waiters.delete(waiter);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const onAbort = () => finish(false);
      const waiter: Waiter = {
        spec,
        wake: () => {
          if (this.topicIndex(spec) > afterIndex) finish(true);
        },
        cancel: () => finish(false),
      };
      this.waiters.add(waiter);
      timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notify(touched: Set<string>): void {
    for (const waiter of [...this.waiters]) {
      for (const topic of touched) {
        if (matchesSpec(waiter.spec, topic)) {
          waiter.wake();
          break;
        }
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.cancel();
    this.db.close();
  }
}

function storeError(error: unknown): MeshError {
  return new MeshError('MESH_E_STORE', `the store could not commit: ${(error as Error).message}`, {
    hint: 'check the data dir disk (space, permissions); the write was not acknowledged',
    cause: error,
  });
}
