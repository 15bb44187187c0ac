/**
 * The C original's unix-socket protocol: every connection gets one line
 * `<id>:<bytes>:<packets>\n` per rule, in file order, then the socket closes.
 * Consumers parse each line from the right (ids may contain ':').
 */
import { dirname } from 'node:path';
import { files } from '../files';
import { loadNet } from '../net-on-demand';
import { listenReplying, type ReplyServer } from './reply-server';

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

/** How often the socket file is checked (someone may remove it, or the whole runtime directory). */
export const SOCKET_WATCH_MS = 5000;

export interface TextSocketOptions {
  /** One line per event the socket recovers from. */
  log?: (message: string) => void;
  watchMs?: number;
}

export class TextSocket {
  private server?: ReplyServer;
  /** The inode of the socket file this process created: another inode or none means it was taken away. */
  private inode?: number;
  private watch?: NodeJS.Timeout;
  private recovering = false;
  /** The last recovery message logged: a problem that stays is logged once, not at every check. */
  private lastEvent?: string;
  private closed = false;

  constructor(readonly path: string, private readonly snapshot: () => readonly CounterLine[],
              private readonly options: TextSocketOptions = {}) {}

  /**
   * Replaces a stale socket file; refuses to steal a socket another process still answers on.
   * Then watches the file: removed or replaced by someone else, it is served again at the same path.
   */
  async listen(): Promise<void> {
    await this.open();
    if (this.closed) return;
    this.watch ??= setInterval(() => this.check(), this.options.watchMs ?? SOCKET_WATCH_MS);
    this.watch.unref();
  }

  private async open(): Promise<void> {
    files().makeDir(dirname(this.path), true);
    await removeStaleSocket(this.path);
    // Written at once into the kernel's buffer: a slow reader stalls nobody.
    const server = await listenReplying(this.path, () => formatCounterLines(this.snapshot()));
    if (this.closed) {
      // close() came while it was being set up.
      server.close();
      return;
    }
    this.server = server;
    // As open as the original's socket: any local user may read the counters.
    files().changeMode(this.path, 0o666);
    this.inode = files().status(this.path, false).ino;
  }

  private check(): void {
    if (this.recovering || !this.server) return;
    let inode: number | undefined;
    try {
      inode = files().status(this.path, false).ino;
    } catch {
      inode = undefined;
    }
    if (inode === this.inode) return;
    if (inode !== undefined) {
      // Someone else's file now: closing our server would unlink it (libuv removes the path it
      // listened on), so leave both alone until the path is free again.
      this.event(`${this.path}: socket file replaced by someone else: not touching it; served again once it is removed`);
      return;
    }
    this.recovering = true;
    this.server.close();
    this.open().then(() => {
      this.options.log?.(`${this.path}: socket file removed by someone else: serving it again`);
      this.lastEvent = undefined;
      // Closed meanwhile: the new server must not outlive it.
      if (this.watch === undefined) this.close();
    }, (err: unknown) => {
      this.event(`${this.path}: socket file removed by someone else: cannot serve it again (${err instanceof Error ? err.message : String(err)}); retrying`);
    }).finally(() => { this.recovering = false; });
  }

  private event(message: string): void {
    if (message === this.lastEvent) return;
    this.lastEvent = message;
    this.options.log?.(message);
  }

  /** Stops listening and removes the socket file (not a file someone else put at its path). */
  close(): void {
    this.closed = true;
    clearInterval(this.watch);
    this.watch = undefined;
    if (!this.server) return;
    let ours: boolean;
    try {
      ours = files().status(this.path, false).ino === this.inode;
    } catch {
      ours = false;
    }
    if (!ours) {
      // libuv unlinks the path when its server closes: keep a file that is not ours.
      this.server.unref();
      this.server = undefined;
      return;
    }
    this.server.close();
    this.server = undefined;
    try {
      files().unlink(this.path);
    } catch {
      // already gone
    }
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = files().status(path, false).isSocket;
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path}: exists and is not a socket; not replacing it`);
  // Only when a file is left over (a daemon that was killed): net's client is loaded for it.
  const alive = await new Promise<boolean>((resolve) => {
    const probe = loadNet().connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path}: another process is serving this socket`);
  files().unlink(path);
}
