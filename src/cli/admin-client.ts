// Reads the local agent's admin API.

import { request } from 'node:http';

export function fetchAdmin<T>(adminAddr: string, path: string, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${adminAddr}${path}`, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${res.statusCode}: ${text.trim()}`));
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          resolve(text as T);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
