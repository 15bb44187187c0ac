/**
 * The capturing processes the benchmark compares, each started in the
 * receiving namespace and stopped after a replay:
 * - tcpdump with a kernel filter that accepts nothing (the floor: the cost
 *   of having a packet socket whose filter rejects every frame);
 * - bpfcountd (dist/bpfcountd.js) with a rule file;
 * - tcpdump without a filter (every frame copied to user space);
 * - the C original's loop (orig-live-loop.c): no kernel filter,
 *   pcap_offline_filter per rule per frame.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, waitForSocket, type Daemon } from '../../test/support/daemon';
import { waitUntilCapturing } from '../../test/support/live-count';
import { run, type VethLink } from '../../test/support/netns';
import { readCounts, type CountLine } from '../../test/support/socket-client';
import { ruleFileText, type BenchRule } from './rules';

/** The daemon's default capture buffer, passed explicitly. */
export const BUFFER_BYTES = 2 * 1024 * 1024;
/** A rule for the probe frames that show the daemon's capture is open (an EtherType nothing else uses). */
export const PROBE_RULE: BenchRule = { id: '_probe', expr: 'ether proto 0x88b5' };

export interface StopResult {
  stdout: string;
  stderr: string;
  /** Kernel drops as the capturer reports them at exit, when it does. */
  dropped?: number;
}

export interface Capturer {
  pid: number;
  /** Counters from the daemon's socket (bpfcountd only). */
  counts?: () => Promise<CountLine[]>;
  stop(): Promise<StopResult>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function collect(child: ChildProcess): { out: () => string; err: () => string; exited: Promise<void> } {
  let out = '';
  let err = '';
  children.add(child);
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<void>((resolve) => child.on('exit', () => { children.delete(child); resolve(); }));
  return { out: () => out, err: () => err, exited };
}

async function waitForText(get: () => string, text: RegExp, exited: Promise<void>, what: string, timeoutMs = 10_000): Promise<void> {
  let gone = false;
  void exited.then(() => { gone = true; });
  const deadline = Date.now() + timeoutMs;
  while (!text.test(get())) {
    if (gone) throw new Error(`${what} exited before it was ready: ${get().trim()}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms: ${get().trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // The ring is mapped before the banner, but give the poll loop a moment.
  await new Promise((r) => setTimeout(r, 200));
}

async function stopChild(child: ChildProcess, io: ReturnType<typeof collect>, what: string): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await io.exited;
  clearTimeout(timer);
  if (child.signalCode === 'SIGKILL') throw new Error(`${what} ignored SIGTERM: ${io.err().trim()}`);
}

/** tcpdump writing to /dev/null; `filter` '' = none (every frame to user space). */
export async function startTcpdump(link: VethLink, filter: string): Promise<Capturer> {
  const argv = ['tcpdump', '-i', link.recvIf, '-n', '-Z', 'root', '-w', '/dev/null'];
  if (filter !== '') argv.push(filter);
  const child = spawn('ip', ['netns', 'exec', link.recvNs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = collect(child);
  await waitForText(io.err, /listening on/, io.exited, 'tcpdump');
  return {
    pid: child.pid ?? NaN,
    stop: async () => {
      await stopChild(child, io, 'tcpdump');
      const dropped = /(\d+) packets? dropped by kernel/.exec(io.err());
      return { stdout: io.out(), stderr: io.err(), dropped: dropped ? Number(dropped[1]) : undefined };
    },
  };
}

export async function startDaemonCapturer(link: VethLink, rules: readonly BenchRule[], workDir: string, name: string, probePcap: string): Promise<Capturer> {
  const filterFile = join(workDir, `${name}.filter`);
  writeFileSync(filterFile, ruleFileText([...rules, PROBE_RULE]));
  const socketPath = join(workDir, `${name}.sock`);
  rmSync(socketPath, { force: true });
  const d: Daemon = startDaemon(link, { filterFile, socketPath, bufferBytes: BUFFER_BYTES });
  try {
    await waitForSocket(d);
    await waitUntilCapturing(link, d, probePcap);
  } catch (err) {
    await d.kill();
    throw err;
  }
  return {
    pid: d.pid,
    counts: () => readCounts(socketPath, 30_000),
    stop: async () => {
      await d.stop('SIGTERM', 10_000);
      return { stdout: d.stdout, stderr: d.stderr };
    },
  };
}

/** Builds bench/prefilter/<name>.c into build/prefilter-bench/<name> (cc -O2 -lpcap). */
export function buildC(root: string, name: string): string {
  const src = join(root, 'bench', 'prefilter', `${name}.c`);
  // Not under build/bench: build.sh empties that directory on every build.
  const outDir = join(root, 'build', 'prefilter-bench');
  const out = join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(out) || statSync(src).mtimeMs > statSync(out).mtimeMs) run(['cc', '-O2', '-Wall', '-o', out, src, '-lpcap']);
  return out;
}

export async function startOrigLoop(link: VethLink, binary: string, rules: readonly BenchRule[], mac: string, workDir: string, name: string): Promise<Capturer> {
  const filterFile = join(workDir, `${name}.filter`);
  writeFileSync(filterFile, ruleFileText(rules));
  const child = spawn('ip', ['netns', 'exec', link.recvNs, binary, '-i', link.recvIf, '-f', filterFile, '--mac', mac], { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = collect(child);
  await waitForText(io.err, /capturing/, io.exited, 'orig-live-loop');
  return {
    pid: child.pid ?? NaN,
    stop: async () => {
      await stopChild(child, io, 'orig-live-loop');
      const st = /stats recv (\d+) drop (\d+)/.exec(io.err());
      return { stdout: io.out(), stderr: io.err(), dropped: st ? Number(st[2]) : undefined };
    },
  };
}

export interface IdleSockets {
  /** Sockets with `filter` (default: reject everything). */
  count: number;
  filter?: string;
  /** Unfiltered sockets nobody reads. */
  unread?: number;
}

/** Packet sockets nobody reads (idle-sockets.c): see there. */
export async function startIdleSockets(link: VethLink, binary: string, o: IdleSockets): Promise<Capturer> {
  const argv = [binary, '-i', link.recvIf, '-n', String(o.count), '-u', String(o.unread ?? 0)];
  if (o.filter !== undefined) argv.push('-F', o.filter);
  const child = spawn('ip', ['netns', 'exec', link.recvNs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = collect(child);
  await waitForText(io.err, /capturing/, io.exited, 'idle-sockets');
  return {
    pid: child.pid ?? NaN,
    stop: async () => {
      await stopChild(child, io, 'idle-sockets');
      return { stdout: io.out(), stderr: io.err() };
    },
  };
}
