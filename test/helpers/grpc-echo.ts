// A gRPC echo service and client (@grpc/grpc-js), for tests that carry gRPC
// through the mesh: a unary call (which can echo its metadata), a
// bidirectional stream, and an error status.

import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));

interface Message {
  text: string;
  served_by: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Service = any;

function echoService(): Service {
  const definition = loader.loadSync(PROTO, { keepCase: true });
  return (grpc.loadPackageDefinition(definition) as Service).meshtest.Echo;
}

export async function startEchoServer(id: string, port = 0, host = '127.0.0.1'): Promise<{ port: number; close: () => void }> {
  const server = new grpc.Server();
  server.addService(echoService().service, {
    // Say "?metadata" and the reply's text is the call's metadata as JSON (what the app received).
    Say: (call: { request: Message; metadata: grpc.Metadata }, callback: (error: grpc.ServiceError | null, reply?: Message) => void) =>
      callback(null, { text: call.request.text === '?metadata' ? JSON.stringify(call.metadata.getMap()) : call.request.text, served_by: id }),
    Chat: (call: grpc.ServerDuplexStream<Message, Message>) => {
      call.on('data', (m: Message) => call.write({ text: m.text.toUpperCase(), served_by: id }));
      call.on('end', () => call.end());
    },
    Fail: (_call: unknown, callback: (error: Partial<grpc.ServiceError>) => void) => callback({ code: grpc.status.PERMISSION_DENIED, details: 'no, from the app' }),
  });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))));
  return { port: bound, close: () => server.forceShutdown() };
}

export function echoClient(port: number): Service {
  return new (echoService())(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** Closes what a gRPC test set up, in order: the client, the proxy bed, the echo servers; any may be missing when set-up failed. */
export async function closeGrpcBed(parts: { client?: { close(): void }; bed?: { close(): Promise<void> }; servers?: ReadonlyArray<{ close(): void }> }): Promise<void> {
  parts.client?.close();
  await parts.bed?.close();
  for (const server of parts.servers ?? []) server.close();
}

export { grpc };
