/**
 * The daemon as a user runs it: `node dist/bpfcountd.js -i <if> -f <file> ...`
 * inside the receiving namespace, with helpers to wait for its socket, to
 * stop it, and to wait until its counters settle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { DAEMON, DAEMON_NODE_FLAGS } from './paths';
import type { VethLink } from './netns';
import { readCounts, type CountLine } from './socket-client';

export interface DaemonArgs {
  filterFile: string;
  socketPath: string;
  prefilter?: string;
  bufferBytes?: number;
  /** Another interface name than the link's receiving end (error cases). */
  iface?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class Daemon {
  readonly exited: Promise<Exit>;
  private exitInfo?: Exit;
  stdout = '';
  stderr = '';
  /** Both streams as they arrived: a serving daemon logs to stdout (syslog info), fatal errors to stderr. */
  log = '';

  constructor(readonly child: ChildProcess, readonly socketPath: string) {
    running.add(child);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; this.log += s; });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; this.log += s; });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        running.delete(child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('daemon did not start');
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  describe(): string {
    const exit = this.exitInfo ? `exit ${this.exitInfo.code ?? this.exitInfo.signal}` : 'running';
    return `daemon (${exit}) log: ${this.log.trim() || '(empty)'}`;
  }

  /** Waits for the exit, killing the daemon with SIGKILL after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`daemon did not exit within ${timeoutMs} ms; killed. ${this.describe()}`);
    }
    return r;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill(signal);
    return this.waitExit(timeoutMs);
  }

  /** For `after` hooks: never throws. */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** node's arguments for a daemon in classic mode: the wrapper's node options, the bundle, its options. */
export function daemonArgv(iface: string, a: DaemonArgs): string[] {
  const argv = [...DAEMON_NODE_FLAGS, DAEMON, '-i', iface, '-f', a.filterFile, '-u', a.socketPath];
  if (a.prefilter !== undefined) argv.push('-F', a.prefilter);
  if (a.bufferBytes !== undefined) argv.push('-b', String(a.bufferBytes));
  return argv;
}

export function startDaemon(link: VethLink, a: DaemonArgs): Daemon {
  // `ip netns exec` execs the command in place: the child's pid is node's.
  const child = spawn('ip', ['netns', 'exec', link.recvNs, process.execPath, ...daemonArgv(a.iface ?? link.recvIf, a)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Daemon(child, a.socketPath);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the socket exists and answers; fails early if the daemon exits. */
export async function waitForSocket(d: Daemon, timeoutMs = 10_000): Promise<CountLine[]> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = 'socket file not there';
  while (Date.now() < deadline) {
    if (d.hasExited) throw new Error(`daemon exited before its socket answered. ${d.describe()}`);
    if (existsSync(d.socketPath) && lstatSync(d.socketPath).isSocket()) {
      try {
        return await readCounts(d.socketPath, 2000);
      } catch (err) {
        lastErr = (err as Error).message;
      }
    }
    await sleep(50);
  }
  throw new Error(`socket ${d.socketPath} did not answer within ${timeoutMs} ms (${lastErr}). ${d.describe()}`);
}

export function countOf(lines: readonly CountLine[], id: string): CountLine {
  const line = lines.find((l) => l.id === id);
  if (!line) throw new Error(`no counter line for rule '${id}' in the daemon's answer (${lines.map((l) => l.id).join(', ')})`);
  return line;
}

/**
 * libpcap's buffer timeout is 250 ms (a frame may wait that long in the
 * ring): "no more packets" means equal reads this far apart.
 */
export const QUIET_MS = 600;

/**
 * Polls the socket until `reached(lines)` holds and then no read changes for
 * QUIET_MS; returns the last read (which the caller then compares exactly).
 * On timeout returns what it has: the comparison shows it.
 */
export async function waitForSettledCounts(d: Daemon, reached: (lines: readonly CountLine[]) => boolean, timeoutMs = 10_000): Promise<CountLine[]> {
  const deadline = Date.now() + timeoutMs;
  let lines: CountLine[] = [];
  while (Date.now() < deadline) {
    if (d.hasExited) throw new Error(`daemon exited while counting. ${d.describe()}`);
    lines = await readCounts(d.socketPath);
    if (reached(lines)) break;
    await sleep(50);
  }
  for (;;) {
    await sleep(QUIET_MS);
    const again = await readCounts(d.socketPath);
    if (JSON.stringify(again) === JSON.stringify(lines) || Date.now() >= deadline) return again;
    lines = again;
  }
}
