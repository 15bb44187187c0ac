/**
 * One live counting run, end to end: give the receiving veth a MAC, start the
 * daemon there with a filter file, make sure it captures (probe frames), replay
 * a capture from the other namespace, wait for the counters to settle, stop
 * the daemon with SIGTERM, and compute what libpcap says the counters must be.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countOf, startDaemon, waitForSettledCounts, waitForSocket, type Daemon, type Exit } from './daemon';
import { recvMac, recvTxPackets, replay, replayAsync, setRecvMac, type ReplayOptions, type VethLink } from './netns';
import { expandRuleSet, oracleCount, oracleMatch } from './oracle';
import { readClassicPcap, writeEthernetPcap } from './pcap';
import { readCounts, type Count, type CountLine } from './socket-client';

export interface RuleDef {
  id: string;
  expr: string;
}

export interface LiveCase {
  capture: string;
  rules: readonly RuleDef[];
  /** MAC to give the receiving veth before the daemon starts (its `$MAC`). */
  mac?: string;
  /**
   * `live` is passed as -F; `offline` is an expression libpcap can run on a
   * file that selects the same frames at the receiving veth (e.g. `inbound`
   * selects every replayed frame there).
   */
  prefilter?: { live: string; offline: string };
  bufferBytes?: number;
  /** How to replay the capture (default: once, --topspeed). */
  replay?: ReplayOptions;
  /** Runs once the socket answers, before any frame is sent (e.g. to connect idle clients). */
  onSocketReady?: (socketPath: string) => Promise<void>;
  /** Runs while the capture is being replayed (replayDone() tells when it ended); the run waits for both. */
  duringReplay?: (socketPath: string, replayDone: () => boolean) => Promise<void>;
}

export interface LiveResult {
  /** The daemon's answer after the counters settled. */
  actual: CountLine[];
  /** libpcap's counts on the same frames, in rule-file order. */
  expected: CountLine[];
  mac: string;
  probesCounted: number;
  probesSent: number;
  exit: Exit;
  socketRemoved: boolean;
  recvTxDuringRun: number;
  daemonStderr: string;
}

export const PROBE_ID = '_probe';
export const ALL_ID = '_all';
/** IEEE local experimental EtherType: none of the shared captures uses it. */
const PROBE_ETHERTYPE = 0x88b5;

export function probeFrame(): Buffer {
  const f = Buffer.alloc(60);
  Buffer.from([0x02, 0xb0, 0xcf, 0, 0, 1, 0x02, 0xb0, 0xcf, 0, 0, 2]).copy(f, 0);
  f.writeUInt16BE(PROBE_ETHERTYPE, 12);
  f.write('bpfcountd live probe', 14, 'ascii');
  return f;
}

export function withHarnessRules(rules: readonly RuleDef[]): RuleDef[] {
  return [
    ...rules,
    { id: PROBE_ID, expr: `ether proto 0x${PROBE_ETHERTYPE.toString(16)}` },
    { id: ALL_ID, expr: 'greater 0' },
  ];
}

export function ruleFileText(rules: readonly RuleDef[]): string {
  return rules.map((r) => `${r.id};${r.expr}\n`).join('');
}

/** libpcap's counts for each rule, or an error naming the rules libpcap refuses. */
export function expectedCounts(capture: string, rules: readonly RuleDef[], mac: string): Count[] {
  const results = oracleCount(capture, expandRuleSet(rules, mac));
  const refused = results.flatMap((r, i) => (r.ok ? [] : [`${rules[i].id} (${rules[i].expr}): ${r.error}`]));
  if (refused.length > 0) throw new Error(`test rule set is wrong, libpcap refuses:\n  ${refused.join('\n  ')}`);
  return results.map((r) => (r.ok ? { packets: r.packets, bytes: r.bytes } : { packets: 0, bytes: 0 }));
}

/** The frames of `capture` the offline prefilter selects, written to `outPath`. */
function prefilteredCapture(capture: string, offline: string, outPath: string): string {
  const bits = oracleMatch(capture, [offline])[0];
  const frames = readClassicPcap(capture).frames;
  const kept = frames.filter((_, i) => bits[i]).map((f) => {
    if (f.data.length !== f.wirelen) throw new Error(`${capture}: truncated frame cannot be replayed as is`);
    return f.data;
  });
  writeEthernetPcap(outPath, kept);
  return outPath;
}

/**
 * Sends probe frames until the daemon counts one; returns how many were sent.
 * For daemons and peers measured by the benchmarks (bpfcountd's own socket
 * appears only once its capture counts; the live tests send one probe and
 * expect it counted).
 */
export async function waitUntilCapturing(link: VethLink, daemon: Daemon, probePcap: string): Promise<number> {
  let probesSent = 0;
  for (;;) {
    probesSent += replay(link, probePcap);
    if (countOf(await readCounts(daemon.socketPath), PROBE_ID).packets > 0) return probesSent;
    if (probesSent >= 100) throw new Error(`daemon counted none of ${probesSent} probe frames. ${daemon.describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function formatLines(lines: readonly CountLine[]): string[] {
  return lines.map((l) => `${l.id}:${l.bytes}:${l.packets}`);
}

export async function runLiveCase(link: VethLink, c: LiveCase): Promise<LiveResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bpfc-live-'));
  let daemon: Daemon | undefined;
  try {
    if (c.mac !== undefined) setRecvMac(link, c.mac);
    const mac = recvMac(link);
    const rules = withHarnessRules(c.rules);
    const filterFile = join(dir, 'rules.filter');
    writeFileSync(filterFile, ruleFileText(rules));
    const probePcap = join(dir, 'probe.pcap');
    writeEthernetPcap(probePcap, [probeFrame()]);

    const counted = c.prefilter ? prefilteredCapture(c.capture, c.prefilter.offline, join(dir, 'prefiltered.pcap')) : c.capture;
    const base = expectedCounts(counted, rules, mac);
    const perProbe = expectedCounts(c.prefilter ? prefilteredCapture(probePcap, c.prefilter.offline, join(dir, 'probe-prefiltered.pcap')) : probePcap, rules, mac);
    const allIndex = rules.length - 1;
    if (perProbe[allIndex].packets !== 1) throw new Error(`the offline prefilter '${c.prefilter?.offline}' drops the probe frame`);

    const socketPath = join(dir, 'counters.sock');
    daemon = startDaemon(link, { filterFile, socketPath, prefilter: c.prefilter?.live, bufferBytes: c.bufferBytes ?? 2 * 1024 * 1024 });
    const first = await waitForSocket(daemon);
    const nonZero = first.filter((l) => l.packets !== 0 || l.bytes !== 0);
    if (nonZero.length > 0) throw new Error(`counters not zero before any replay (the link is not silent?): ${formatLines(nonZero).join(' ')}`);
    const txBefore = recvTxPackets(link);
    await c.onSocketReady?.(socketPath);

    // The socket answers once the capture counts: the very first frame (a probe) must be counted.
    const probesSent = replay(link, probePcap);
    const loops = c.replay?.loop ?? 1;
    let replayEnded = false;
    const replayed = replayAsync(link, c.capture, c.replay).finally(() => { replayEnded = true; });
    await Promise.all([replayed, c.duringReplay?.(socketPath, () => replayEnded)]);
    const expected = rules.map((r, i) => ({
      id: r.id,
      packets: base[i].packets * loops + probesSent * perProbe[i].packets,
      bytes: base[i].bytes * loops + probesSent * perProbe[i].bytes,
    }));
    const settled = await waitForSettledCounts(daemon, (lines) => countOf(lines, ALL_ID).packets >= expected[allIndex].packets);
    const probesCounted = countOf(settled, PROBE_ID).packets;
    const recvTxDuringRun = recvTxPackets(link) - txBefore;
    const exit = await daemon.stop('SIGTERM');
    return {
      actual: settled, expected, mac, probesCounted, probesSent, exit,
      socketRemoved: !existsSync(socketPath), recvTxDuringRun, daemonStderr: daemon.log,
    };
  } finally {
    await daemon?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
