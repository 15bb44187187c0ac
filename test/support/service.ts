/**
 * Service mode (`-c <uci file>`) as a router runs it, for live tests: one
 * daemon namespace holding several interfaces, one peer namespace holding
 * their veth peers, UCI files written by the test, and helpers that read the
 * per-section sockets and make exact expectations per section.
 *
 * Namespaces are named like netns.ts's (`bpfc-live-<pid>-...`) so that its
 * sweep removes the ones a killed test process left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Daemon, QUIET_MS, sleep } from './daemon';
import { ALL_ID, expectedCounts, formatLines, type RuleDef } from './live-count';
import { createLink, destroyLink, nsRun, replay, run, type VethLink } from './netns';
import { DAEMON, DAEMON_NODE_FLAGS } from './paths';
import { nsGet } from './prometheus';
import { readCounts, type CountLine } from './socket-client';

export interface ServiceNet {
  /** Namespace the daemon runs in (the router). */
  daemonNs: string;
  /** Namespace of the veth peers (the neighbours). */
  peerNs: string;
  links: VethLink[];
}

let netCounter = 0;
const liveNets = new Set<ServiceNet>();

process.on('exit', () => {
  for (const net of [...liveNets]) destroyServiceNet(net);
});

export function createServiceNet(): ServiceNet {
  // createLink() sweeps namespaces of dead test processes; its own link is not needed.
  destroyLink(createLink());
  const tag = `${process.pid}-svc${netCounter++}`;
  const net: ServiceNet = { daemonNs: `bpfc-live-${tag}-d`, peerNs: `bpfc-live-${tag}-p`, links: [] };
  liveNets.add(net);
  try {
    run(['ip', 'netns', 'add', net.daemonNs]);
    run(['ip', 'netns', 'add', net.peerNs]);
  } catch (err) {
    destroyServiceNet(net);
    throw err;
  }
  return net;
}

export function destroyServiceNet(net: ServiceNet): void {
  spawnSync('ip', ['netns', 'del', net.daemonNs]);
  spawnSync('ip', ['netns', 'del', net.peerNs]);
  liveNets.delete(net);
}

/**
 * A silent veth pair (settings as netns.ts: no IPv6, no ARP, no multicast,
 * MTU 9000): `daemonIf` in the daemon's namespace, `peerIf` in the peer's.
 * Replaying on the returned link sends INTO daemonIf (inbound there).
 */
export function addVeth(net: ServiceNet, daemonIf: string, peerIf: string, mac?: string): VethLink {
  const link: VethLink = { sendNs: net.peerNs, sendIf: peerIf, recvNs: net.daemonNs, recvIf: daemonIf };
  run(['ip', 'link', 'add', peerIf, 'netns', net.peerNs, 'type', 'veth', 'peer', 'name', daemonIf, 'netns', net.daemonNs]);
  for (const [ns, dev] of [[net.peerNs, peerIf], [net.daemonNs, daemonIf]]) {
    nsRun(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    run(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'mtu', '9000', 'arp', 'off', 'multicast', 'off']);
  }
  if (mac !== undefined) run(['ip', '-n', net.daemonNs, 'link', 'set', 'dev', daemonIf, 'address', mac]);
  for (const [ns, dev] of [[net.peerNs, peerIf], [net.daemonNs, daemonIf]]) run(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'up']);
  net.links.push(link);
  return link;
}

/** Deletes the daemon's end (and so the pair), as a hot-unplugged interface. */
export function removeVeth(net: ServiceNet, link: VethLink): void {
  run(['ip', '-n', net.daemonNs, 'link', 'del', 'dev', link.recvIf]);
  net.links = net.links.filter((l) => l !== link);
}

/** The same pair seen from the daemon's side: replaying on it sends OUT of daemonIf (outbound there). */
export function outboundOf(link: VethLink): VethLink {
  return { sendNs: link.recvNs, sendIf: link.recvIf, recvNs: link.sendNs, recvIf: link.sendIf };
}

export function interfaceMac(link: VethLink): string {
  return nsRun(link.recvNs, ['cat', `/sys/class/net/${link.recvIf}/address`]).trim();
}

// ---- UCI files -----------------------------------------------------------

export interface UciSectionDef {
  name: string;
  options: Record<string, string>;
  /** `list rule` entries, `<id>;<expr>`. */
  rules?: readonly RuleDef[];
}

function quote(value: string): string {
  if (value.includes("'")) throw new Error(`test UCI value with a single quote: ${value}`);
  return `'${value}'`;
}

export function uciText(sections: readonly UciSectionDef[]): string {
  return sections.map((s) => [
    `config bpfcountd ${quote(s.name)}`,
    ...Object.entries(s.options).map(([k, v]) => `\toption ${k} ${quote(v)}`),
    ...(s.rules ?? []).map((r) => `\tlist rule ${quote(`${r.id};${r.expr}`)}`),
  ].join('\n') + '\n').join('\n');
}

/** Replaced by rename, as the init script and uci do: the daemon never reads half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

// ---- the daemon ------------------------------------------------------------

/** `--ubus` pointed at a path that cannot exist: the daemon logs once and retries quietly. */
export const NO_UBUS = '--ubus=/nonexistent/ubus.sock';

/** Starts `node dist/bpfcountd.js <args>` in the daemon's namespace. `socketPath` is the one waitForSocket() would use. */
export function startServiceDaemon(net: ServiceNet, args: readonly string[], socketPath: string, nodeFlags: readonly string[] = DAEMON_NODE_FLAGS): Daemon {
  // `ip netns exec` execs in place: the child's pid is node's.
  const child = spawn('ip', ['netns', 'exec', net.daemonNs, process.execPath, ...nodeFlags, DAEMON, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Daemon(child, socketPath);
}

export function isSocket(path: string): boolean {
  return existsSync(path) && lstatSync(path).isSocket();
}

/** Waits until every socket answers; fails early if the daemon exits. */
export async function waitForSockets(d: Daemon, paths: readonly string[], timeoutMs = 10_000): Promise<Map<string, CountLine[]>> {
  const deadline = Date.now() + timeoutMs;
  const answers = new Map<string, CountLine[]>();
  let lastErr = '';
  while (Date.now() < deadline && answers.size < paths.length) {
    if (d.hasExited) throw new Error(`daemon exited before its sockets answered. ${d.describe()}`);
    for (const p of paths) {
      if (answers.has(p) || !isSocket(p)) continue;
      try {
        answers.set(p, await readCounts(p, 2000));
      } catch (err) {
        lastErr = (err as Error).message;
      }
    }
    if (answers.size < paths.length) await sleep(50);
  }
  const missing = paths.filter((p) => !answers.has(p));
  if (missing.length > 0) throw new Error(`sockets did not answer within ${timeoutMs} ms: ${missing.join(', ')} (${lastErr}). ${d.describe()}`);
  return answers;
}

/** Waits until the daemon's log (stdout and stderr) matches; returns the log after `from` (an earlier length). */
export async function waitForLog(d: Daemon, pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = d.log.slice(from);
    if (pattern.test(text)) return text;
    if (d.hasExited) break;
    await sleep(50);
  }
  throw new Error(`daemon log did not show ${pattern} within ${timeoutMs} ms. ${d.describe()}`);
}

export function countIn(lines: readonly CountLine[], id: string): CountLine {
  const line = lines.find((l) => l.id === id);
  if (!line) throw new Error(`no counter line for rule '${id}' (${lines.map((l) => l.id).join(', ')})`);
  return line;
}

// ---- expectations --------------------------------------------------------

/**
 * What a section is expected to have counted: per rule, libpcap's counts
 * summed over the frames sent that it sees. Nothing here is read from the
 * daemon under test.
 */
export class SectionExpectation {
  lines: CountLine[];

  constructor(readonly rules: readonly RuleDef[], private mac: string) {
    this.lines = rules.map((r) => ({ id: r.id, packets: 0, bytes: 0 }));
    if (!rules.some((r) => r.id === ALL_ID)) throw new Error(`a watched section needs an ${ALL_ID} rule`);
  }

  /** A new interface MAC (re-created interface): later captures are counted with it. */
  setMac(mac: string): this {
    this.mac = mac;
    return this;
  }

  /** Adds libpcap's counts of `capture` (times `times`). */
  add(capture: string, times = 1): this {
    const counts = expectedCounts(capture, this.rules, this.mac);
    counts.forEach((c, i) => {
      this.lines[i].packets += c.packets * times;
      this.lines[i].bytes += c.bytes * times;
    });
    return this;
  }

  /**
   * The expectation after a reload to `rules` (README, reload): a rule whose
   * id and expression are unchanged keeps its count, every other starts at 0.
   */
  reloaded(rules: readonly RuleDef[]): SectionExpectation {
    const next = new SectionExpectation(rules, this.mac);
    next.lines = rules.map((r) => {
      const at = this.rules.findIndex((old) => old.id === r.id && old.expr === r.expr);
      return at < 0 ? { id: r.id, packets: 0, bytes: 0 } : { ...this.lines[at] };
    });
    return next;
  }

  /** The `_all` packets to wait for. */
  target(): number {
    return countIn(this.lines, ALL_ID).packets;
  }

  expected(): string[] {
    return formatLines(this.lines);
  }
}

/**
 * Polls a socket until its `_all` counter reaches `packets` and then stays
 * unchanged for QUIET_MS; returns the last read (the caller compares it exactly).
 */
export async function settledCounts(d: Daemon, socket: string, packets: number, timeoutMs = 10_000): Promise<CountLine[]> {
  const deadline = Date.now() + timeoutMs;
  let lines: CountLine[] = [];
  while (Date.now() < deadline) {
    if (d.hasExited) throw new Error(`daemon exited while counting. ${d.describe()}`);
    lines = await readCounts(socket);
    if (countIn(lines, ALL_ID).packets >= packets) break;
    await sleep(50);
  }
  // Whatever else arrives (a frame too many) arrives within the buffer timeout.
  for (;;) {
    await sleep(QUIET_MS);
    const again = await readCounts(socket);
    if (JSON.stringify(again) === JSON.stringify(lines) || Date.now() >= deadline) return again;
    lines = again;
  }
}

/** Waits for a section's counters to settle; returns them and what they must be, as text lines. */
export async function settleSection(d: Daemon, socket: string, expect: SectionExpectation): Promise<{ actual: string[]; expected: string[]; lines: CountLine[] }> {
  const lines = await settledCounts(d, socket, expect.target());
  return { actual: formatLines(lines), expected: expect.expected(), lines };
}

// ---- phases ----------------------------------------------------------------

/** Captures replayed on one link (one interface, one direction). */
export interface Feed {
  link: VethLink;
  captures: readonly string[];
}

/** Paced so that a loaded test machine does not drop frames in the rings. */
export const FEED_PPS = 2000;

export function replayFeeds(feeds: readonly Feed[], pps = FEED_PPS): void {
  for (const f of feeds) for (const c of f.captures) replay(f.link, c, { pps });
}

export interface WatchedSection {
  name: string;
  socket: string;
  expect: SectionExpectation;
}

/**
 * Settles every section and compares it exactly with its expectation (from
 * the frames sent, through libpcap). Returns the differences, one line each.
 */
export async function verifySections(d: Daemon, sections: readonly WatchedSection[]): Promise<string[]> {
  const problems: string[] = [];
  for (const s of sections) {
    const r = await settleSection(d, s.socket, s.expect);
    r.actual.forEach((line, i) => {
      const want = r.expected[i] ?? '(none)';
      if (line !== want) problems.push(`${s.name}: ${line} but libpcap says ${want}`);
    });
    if (r.actual.length !== r.expected.length) problems.push(`${s.name}: ${r.actual.length} lines, expected ${r.expected.length}`);
  }
  return problems;
}

/**
 * One live service test's own world: a temporary directory and a service
 * network (lo up, for a metrics listener), both removed when the test ends,
 * with the daemon given to `own()` killed first (continued if it was stopped).
 */
export interface ServiceTestBed {
  dir: string;
  net: ServiceNet;
  own: (d: Daemon) => Daemon;
}

export function serviceTestBed(prefix: string): ServiceTestBed {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const net = createServiceNet();
  run(['ip', '-n', net.daemonNs, 'link', 'set', 'lo', 'up']);
  let daemon: Daemon | undefined;
  after(async () => {
    if (daemon && !daemon.hasExited) process.kill(daemon.pid, 'SIGCONT');
    await daemon?.stop('SIGKILL', 5000).catch(() => undefined);
    destroyServiceNet(net);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, net, own: (d) => (daemon = d) };
}

/** The metrics listener's base URL, from the daemon's log line (metrics_listen '127.0.0.1:0'). */
export async function metricsBaseUrl(d: Daemon): Promise<string> {
  const line = await waitForLog(d, /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
  const url = /metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(line)?.[1];
  if (url === undefined) throw new Error(`no metrics address in the log. ${d.describe()}`);
  return url;
}

export interface InstanceDrops { received: number; dropped: number; ifdropped: number }

/** One instance's stats from /stats.json (the ubus `stats` reply), read from inside the daemon's namespace. */
export async function instanceStats(net: ServiceNet, url: string, name: string): Promise<{ state: string; error?: string; drops: InstanceDrops }> {
  const stats = JSON.parse((await nsGet(net.daemonNs, `${url}/stats.json`)).body) as Record<string, { state: string; error?: string; drops: InstanceDrops }>;
  return stats[name];
}
