// The agent's connections to the server's TLS API: verified against the mesh
// roots the agent holds (pinned at join, then kept current by its watch of
// the roots, so a CA rotation never cuts it off), and presenting one of the
// host's service leaves, which lets the agent renew that leaf even when its
// join token is no longer valid. Read at each new connection.

import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect, type ConnectionOptions } from 'node:tls';
import { serverTlsOptions } from '../lib/tls/server-trust.ts';

export interface ServerTlsSource {
  roots(): readonly string[];
  insecureSkipVerify: boolean;
  clientCertificate(): { certPem: string; keyPem: string } | undefined;
}

export class ServerAgent extends HttpsAgent {
  private readonly source: ServerTlsSource;

  constructor(source: ServerTlsSource, options: AgentOptions = {}) {
    super({ keepAlive: true, ...options });
    this.source = source;
  }

  override createConnection(options: ConnectionOptions): Duplex {
    const client = this.source.clientCertificate();
    return connect({
      ...options,
      ...(serverTlsOptions({ rootsPem: this.source.roots(), insecureSkipVerify: this.source.insecureSkipVerify }) as ConnectionOptions),
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    });
  }
}
