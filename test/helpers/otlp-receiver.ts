// A stand-in OTLP/HTTP collector for tests: `node otlp-receiver.ts HOST PORT`
// takes POST /v1/traces (protobuf), answers 200 with an empty
// ExportTraceServiceResponse, and prints each span it decoded as one JSON
// line on stdout (after a first line {"listening": "HOST:PORT"}). Run it
// inside a test-bed namespace; the test reads its stdout.

import { createServer } from 'node:http';
import { decodeTraceRequest } from './otlp-decode.ts';

const [host = '127.0.0.1', port = '4318'] = process.argv.slice(2);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/x-protobuf')) {
      res.writeHead(400).end(`expected POST /v1/traces with application/x-protobuf, got ${req.method} ${req.url} ${req.headers['content-type']}\n`);
      return;
    }
    try {
      for (const span of decodeTraceRequest(Buffer.concat(chunks))) {
        process.stdout.write(`${JSON.stringify(span, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    } catch (error) {
      process.stderr.write(`undecodable request: ${(error as Error).message}\n`);
      res.writeHead(400).end();
    }
  });
});
server.listen(Number(port), host, () => process.stdout.write(`${JSON.stringify({ listening: `${host}:${port}` })}\n`));
