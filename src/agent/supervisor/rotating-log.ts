// An append-only log file rotated by size: agent.log, agent.log.1 … .N.

import { appendFileSync, existsSync, renameSync, statSync, rmSync } from 'node:fs';

export class RotatingLog {
  private readonly path: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private size: number;

  constructor(path: string, options: { maxBytes?: number; keep?: number } = {}) {
    this.path = path;
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.keep = options.keep ?? 3;
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  write(chunk: string | Buffer): void {
    const length = Buffer.byteLength(chunk);
    if (this.size > 0 && this.size + length > this.maxBytes) this.rotate();
    appendFileSync(this.path, chunk, { mode: 0o600 });
    this.size += length;
  }

  private rotate(): void {
    rmSync(`${this.path}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    }
    renameSync(this.path, `${this.path}.1`);
    this.size = 0;
  }
}
