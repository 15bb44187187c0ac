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
import { existsSync, lstatSync, renameSync, writeFileSync } from 'node:fs';
import { Daemon, sleep } from './daemon';
import { ALL_ID, expectedCounts, formatLines, PROBE_ID, type RuleDef } from './live-count';
import { createLink, destroyLink, nsRun, replay, run, type VethLink } from './netns';
import { DAEMON } from './paths';
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
export function startServiceDaemon(net: ServiceNet, args: readonly string[], socketPath: string, nodeFlags: readonly string[] = []): Daemon {
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

/** Waits until the daemon's stderr matches; returns the stderr text after `from` (an earlier length). */
export async function waitForStderr(d: Daemon, pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = d.stderr.slice(from);
    if (pattern.test(text)) return text;
    if (d.hasExited) break;
    await sleep(50);
  }
  throw new Error(`daemon stderr did not show ${pattern} within ${timeoutMs} ms. ${d.describe()}`);
}

export function countIn(lines: readonly CountLine[], id: string): CountLine {
  const line = lines.find((l) => l.id === id);
  if (!line) throw new Error(`no counter line for rule '${id}' (${lines.map((l) => l.id).join(', ')})`);
  return line;
}

// ---- expectations --------------------------------------------------------

/**
 * What a section is expected to have counted: per rule, libpcap's counts
 * summed over the frames it saw, plus the probe frames it counted (read from
 * the daemon at the end, since a capture may miss the first probe).
 */
export class SectionExpectation {
  lines: CountLine[];
  /** Probes whose counts are already in `lines`. */
  private probesIncluded = 0;
  private readonly perProbe: CountLine[];

  constructor(readonly rules: readonly RuleDef[], private mac: string, probePcap: string) {
    this.lines = rules.map((r) => ({ id: r.id, packets: 0, bytes: 0 }));
    this.perProbe = expectedCounts(probePcap, rules, mac).map((c, i) => ({ id: rules[i].id, ...c }));
    if (countIn(this.perProbe, PROBE_ID).packets !== 1 || countIn(this.perProbe, ALL_ID).packets !== 1) {
      throw new Error('the probe frame must match the _probe and _all rules once');
    }
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

  /** Starts from counters the daemon showed (e.g. checked before, kept across a reload). */
  rebase(actual: readonly CountLine[]): this {
    this.lines = this.rules.map((r) => ({ ...countIn(actual, r.id) }));
    this.probesIncluded = countIn(actual, PROBE_ID).packets;
    return this;
  }

  /** The `_all` packets to wait for, given the daemon's current probe count. */
  target(probesNow: number): number {
    return countIn(this.lines, ALL_ID).packets + (probesNow - this.probesIncluded);
  }

  /** The expected lines, given the probes the daemon counted. */
  expected(probes: number): string[] {
    if (probes < this.probesIncluded) return [`_probe went down from ${this.probesIncluded} to ${probes}`];
    const extra = probes - this.probesIncluded;
    return formatLines(this.lines.map((l, i) => ({
      id: l.id, packets: l.packets + extra * this.perProbe[i].packets, bytes: l.bytes + extra * this.perProbe[i].bytes,
    })));
  }
}

/**
 * A section to probe: its socket, and the link (and direction) its probes
 * must take to be seen (an `outbound` section needs outboundOf(link)).
 */
export interface ProbeTarget {
  socket: string;
  link: VethLink;
}

/**
 * libpcap re-filters the first ring frame in user space after a capture
 * (re)opens; with `inbound`/`outbound` prefilters that frame can be missed.
 * Sends probe frames until every target's `_probe` counter exceeds what it was
 * at the call.
 */
export async function probeUntilCounted(d: Daemon, targets: readonly ProbeTarget[], probePcap: string): Promise<void> {
  const base = new Map<string, number>();
  for (const t of targets) base.set(t.socket, countIn(await readCounts(t.socket), PROBE_ID).packets);
  let pending = [...targets];
  for (let round = 0; pending.length > 0; round++) {
    if (round >= 100) throw new Error(`no probe counted after 100 rounds on ${pending.map((t) => t.socket).join(', ')}. ${d.describe()}`);
    if (d.hasExited) throw new Error(`daemon exited while probing. ${d.describe()}`);
    const sentOn = new Set<string>();
    for (const t of pending) {
      const key = `${t.link.sendNs}/${t.link.sendIf}`;
      if (sentOn.has(key)) continue;
      sentOn.add(key);
      replay(t.link, probePcap);
    }
    await sleep(100);
    const still: ProbeTarget[] = [];
    for (const t of pending) {
      if (countIn(await readCounts(t.socket), PROBE_ID).packets <= (base.get(t.socket) ?? 0)) still.push(t);
    }
    pending = still;
  }
}

/**
 * Polls a socket until its `_all` counter reaches `packets` and two reads in
 * a row are equal; returns the last read (the caller compares it exactly).
 */
export async function settledCounts(d: Daemon, socket: string, packets: number, timeoutMs = 10_000): Promise<CountLine[]> {
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  let lines: CountLine[] = [];
  while (Date.now() < deadline) {
    if (d.hasExited) throw new Error(`daemon exited while counting. ${d.describe()}`);
    lines = await readCounts(socket);
    const now = JSON.stringify(lines);
    if (countIn(lines, ALL_ID).packets >= packets && now === previous) return lines;
    previous = now;
    await sleep(100);
  }
  return lines;
}

/** Waits for a section's counters to settle; returns them and what they must be, as text lines. */
export async function settleSection(d: Daemon, socket: string, expect: SectionExpectation): Promise<{ actual: string[]; expected: string[]; lines: CountLine[] }> {
  const probesNow = countIn(await readCounts(socket), PROBE_ID).packets;
  const lines = await settledCounts(d, socket, expect.target(probesNow));
  return { actual: formatLines(lines), expected: expect.expected(countIn(lines, PROBE_ID).packets), lines };
}

// ---- phases ----------------------------------------------------------------

/** Captures replayed on one link (one interface, one direction). */
export interface Feed {
  link: VethLink;
  captures: readonly string[];
}

/** Paced so that a loaded test machine does not drop frames in the rings. */
export const FEED_PPS = 2000;
/**
 * A warm-up replay is slower: frames > 1 ms apart, so the first ring block of
 * a capture (libpcap's immediate-mode block timeout is 1 ms) holds one frame.
 */
export const WARM_UP_PPS = 500;
/**
 * At most this many frames may be lost per capture in a warm-up (README:
 * with a direction in the kernel filter the daemon uses immediate mode, so
 * libpcap's user-space re-check covers at most the first packet).
 */
export const FIRST_BLOCK_FRAMES = 1;

export function replayFeeds(feeds: readonly Feed[], pps = FEED_PPS): void {
  for (const f of feeds) for (const c of f.captures) replay(f.link, c, { pps });
}

export interface WatchedSection {
  name: string;
  socket: string;
  expect: SectionExpectation;
  /**
   * An `inbound`/`outbound` prefilter: each capture of the section (the
   * shared one and every rule on its own libpcap handle) may miss the frames
   * of the first ring block it fills after it (re)opens (libpcap re-filters
   * that block in user space, where the direction is unknown, so they fail).
   * Probes only prime the shared capture.
   */
  directional: boolean;
}

/**
 * Settles every section and compares it with its expectation: `exact`, or
 * `warm-up` (a directional section's rules may each lack up to
 * FIRST_BLOCK_FRAMES packets: the first ring block after the capture opened). Then rebases every expectation on what the
 * daemon showed, so the next phase is compared exactly from there.
 * Returns the differences, one line each.
 */
export async function verifySections(d: Daemon, sections: readonly WatchedSection[], mode: 'exact' | 'warm-up'): Promise<string[]> {
  const problems: string[] = [];
  for (const s of sections) {
    const r = await settleSection(d, s.socket, s.expect);
    const lenient = mode === 'warm-up' && s.directional;
    r.actual.forEach((line, i) => {
      const want = r.expected[i] ?? '(none)';
      if (line === want) return;
      if (lenient) {
        const a = /:(\d+):(\d+)$/.exec(line);
        const e = /:(\d+):(\d+)$/.exec(want);
        const short = e && a ? Number(e[2]) - Number(a[2]) : 0;
        if (a && e && short >= 1 && short <= FIRST_BLOCK_FRAMES && Number(a[1]) < Number(e[1])) return;
      }
      problems.push(`${s.name} (${mode}): ${line} but libpcap says ${want}`);
    });
    if (r.actual.length !== r.expected.length) problems.push(`${s.name}: ${r.actual.length} lines, expected ${r.expected.length}`);
    s.expect.rebase(r.lines);
  }
  return problems;
}
