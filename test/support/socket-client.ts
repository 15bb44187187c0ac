/**
 * A client of the daemon's text socket, as Gluon's respondd provider is:
 * connect, read until the daemon closes, parse `<id>:<bytes>:<packets>` lines
 * from the right (ids may contain ':').
 */
import { connect, type Socket } from 'node:net';

export interface Count {
  packets: number;
  bytes: number;
}

export interface CountLine extends Count {
  id: string;
}

export function readSocketText(path: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${path}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

export function parseCountText(text: string): CountLine[] {
  if (text !== '' && !text.endsWith('\n')) throw new Error(`answer does not end with a newline: ${JSON.stringify(text.slice(-80))}`);
  const lines: CountLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('%')) continue;
    const m = /^(.*):(\d+):(\d+)$/.exec(line);
    if (!m) throw new Error(`malformed counter line ${JSON.stringify(line)}`);
    lines.push({ id: m[1], bytes: Number(m[2]), packets: Number(m[3]) });
  }
  return lines;
}

export async function readCounts(path: string, timeoutMs = 5000): Promise<CountLine[]> {
  return parseCountText(await readSocketText(path, timeoutMs));
}

/** Connects and never reads: the daemon must not stall on it. Destroy it when done. */
export function connectIdle(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('connect', () => {
      // Stop reading at once so the kernel buffers fill up on the daemon's side.
      sock.pause();
      resolve(sock);
    });
    sock.once('error', reject);
  });
}
