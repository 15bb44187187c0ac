/**
 * The C original's unix-socket protocol: every connection gets one line
 * `<id>:<bytes>:<packets>\n` per rule, in file order, then the socket closes.
 * Consumers parse each line from the right (ids may contain ':').
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';

export interface CounterLine {
  id: string;
  bytes: number;
  packets: number;
}

export function formatCounterLines(lines: readonly CounterLine[]): string {
  let text = '';
  for (const line of lines) text += `${line.id}:${line.bytes}:${line.packets}\n`;
  return text;
}

/** A client that connects and never reads is dropped after this long. */
const CLIENT_TIMEOUT_MS = 10_000;

export class TextSocket {
  private server?: Server;

  constructor(readonly path: string, private readonly snapshot: () => readonly CounterLine[]) {}

  /** Replaces a stale socket file; refuses to steal a socket another process still answers on. */
  async listen(): Promise<void> {
    await removeStaleSocket(this.path);
    const server = createServer((client) => {
      client.on('error', () => client.destroy());
      client.setTimeout(CLIENT_TIMEOUT_MS, () => client.destroy());
      // Written at once into the kernel (or Node's) buffer: a slow reader stalls nobody.
      client.end(formatCounterLines(this.snapshot()));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // As open as the original's socket: any local user may read the counters.
    chmodSync(this.path, 0o666);
  }

  /** Stops listening and removes the socket file. */
  close(): void {
    if (!this.server) return;
    this.server.close();
    this.server = undefined;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path}: exists and is not a socket; not replacing it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path}: another process is serving this socket`);
  unlinkSync(path);
}
