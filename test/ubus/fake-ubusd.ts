/**
 * A stand-in for ubusd in tests: a unix socket server in a temporary
 * directory that sends captured bytes and hands over what the client sends,
 * one whole message at a time (framed here independently of src/ubus).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { prng, randomChunks } from './fixtures';

export function tempSocketPath(): { dir: string; socket: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfcountd-ubus-'));
  return { dir, socket: path.join(dir, 'ubus.sock') };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}

export class FakeConnection {
  private buf = Buffer.alloc(0);
  private readonly messages: Buffer[] = [];
  private waiters: ((m: Buffer | null) => void)[] = [];
  ended = false;
  private readonly rnd: () => number;

  constructor(readonly socket: net.Socket, seed: number) {
    this.rnd = prng(seed);
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 12) {
        const total = 8 + (this.buf.readUInt32BE(8) & 0xffffff);
        if (this.buf.length < total) break;
        this.deliver(this.buf.subarray(0, total));
        this.buf = this.buf.subarray(total);
      }
    });
    socket.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    socket.on('error', () => undefined);
  }

  private deliver(m: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(Buffer.from(m));
    else this.messages.push(Buffer.from(m));
  }

  /** The next whole message from the client, or null once it hung up. */
  next(timeoutMs = 3000): Promise<Buffer | null> {
    const queued = this.messages.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return withTimeout(new Promise<Buffer | null>((resolve) => this.waiters.push(resolve)), timeoutMs, 'a message from the client');
  }

  /** Writes the bytes in random pieces with event-loop turns in between. */
  async send(bytes: Buffer): Promise<void> {
    for (const piece of randomChunks(bytes, this.rnd, 1 + Math.floor(this.rnd() * 64))) {
      this.socket.write(piece);
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export class FakeUbusd {
  private readonly pending: FakeConnection[] = [];
  private waiters: ((c: FakeConnection) => void)[] = [];
  readonly connections: FakeConnection[] = [];
  private seed = 1;

  private constructor(private readonly server: net.Server, readonly socketPath: string) {
    server.on('connection', (s) => {
      const c = new FakeConnection(s, this.seed++);
      this.connections.push(c);
      const w = this.waiters.shift();
      if (w) w(c);
      else this.pending.push(c);
    });
  }

  static listen(socketPath: string): Promise<FakeUbusd> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(socketPath, () => resolve(new FakeUbusd(server, socketPath)));
    });
  }

  accept(timeoutMs = 3000): Promise<FakeConnection> {
    const c = this.pending.shift();
    if (c) return Promise.resolve(c);
    return withTimeout(new Promise<FakeConnection>((r) => this.waiters.push(r)), timeoutMs, 'a client connection');
  }

  /** Like ubusd going away: every connection closed, the socket file removed. */
  close(): Promise<void> {
    for (const c of this.connections) c.close();
    return new Promise((resolve) => this.server.close(() => {
      fs.rmSync(this.socketPath, { force: true });
      resolve();
    }));
  }
}
