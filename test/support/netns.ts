/**
 * Two network namespaces joined by a veth pair, kept silent so that the only
 * frames on the link are the ones a test replays: no addresses, IPv6 off
 * before the link goes up (no DAD/RS/MLD), ARP and multicast off (no IGMP,
 * no ARP answers), loopback left down. MTU 9000 so captured frames larger
 * than 1514 bytes (print-flags.pcap) can be replayed.
 *
 * Every link is torn down by destroyLink(), and, as a safety net, when the
 * test process exits; namespaces left behind by dead test processes are
 * removed on the next createLink().
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';

export interface VethLink {
  /** Namespace that replays captures. */
  sendNs: string;
  sendIf: string;
  /** Namespace the daemon runs in. */
  recvNs: string;
  recvIf: string;
}

const NS_PREFIX = 'bpfc-live-';
const LINK_MTU = 9000;
let linkCounter = 0;
const liveLinks = new Set<VethLink>();

/** Runs a command on the host; throws with its stderr unless it succeeds. */
export function run(argv: readonly string[], input?: string): string {
  const r: SpawnSyncReturns<string> = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command inside a namespace (`ip netns exec`). */
export function nsRun(ns: string, argv: readonly string[]): string {
  return run(['ip', 'netns', 'exec', ns, ...argv]);
}

function sweepAbandonedNamespaces(): void {
  const names = run(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NS_PREFIX));
  for (const name of names) {
    const pid = Number(/^bpfc-live-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (!alive) spawnSync('ip', ['netns', 'del', name]);
  }
}

export function createLink(): VethLink {
  sweepAbandonedNamespaces();
  const n = linkCounter++;
  const tag = `${process.pid}-${n}`;
  const link: VethLink = {
    sendNs: `${NS_PREFIX}${tag}-s`,
    recvNs: `${NS_PREFIX}${tag}-r`,
    // Interface names are at most 15 characters.
    sendIf: `bs${process.pid % 1_000_000}x${n}`.slice(0, 15),
    recvIf: `br${process.pid % 1_000_000}x${n}`.slice(0, 15),
  };
  liveLinks.add(link);
  try {
    run(['ip', 'netns', 'add', link.sendNs]);
    run(['ip', 'netns', 'add', link.recvNs]);
    // Created directly inside the namespaces: nothing ever appears in the host's.
    run(['ip', 'link', 'add', link.sendIf, 'netns', link.sendNs, 'type', 'veth', 'peer', 'name', link.recvIf, 'netns', link.recvNs]);
    for (const [ns, dev] of [[link.sendNs, link.sendIf], [link.recvNs, link.recvIf]]) {
      nsRun(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      run(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'mtu', String(LINK_MTU), 'arp', 'off', 'multicast', 'off']);
    }
    for (const [ns, dev] of [[link.sendNs, link.sendIf], [link.recvNs, link.recvIf]]) {
      run(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'up']);
    }
  } catch (err) {
    destroyLink(link);
    throw err;
  }
  return link;
}

export function destroyLink(link: VethLink): void {
  // Deleting a namespace deletes its end of the veth, which deletes the pair.
  spawnSync('ip', ['netns', 'del', link.sendNs]);
  spawnSync('ip', ['netns', 'del', link.recvNs]);
  liveLinks.delete(link);
}

process.on('exit', () => {
  for (const link of [...liveLinks]) destroyLink(link);
});

export function recvMac(link: VethLink): string {
  return nsRun(link.recvNs, ['cat', `/sys/class/net/${link.recvIf}/address`]).trim();
}

export function setRecvMac(link: VethLink, mac: string): void {
  run(['ip', '-n', link.recvNs, 'link', 'set', 'dev', link.recvIf, 'address', mac]);
}

/** Frames the receiving end has sent: must stay 0 on a silent link. */
export function recvTxPackets(link: VethLink): number {
  return Number(nsRun(link.recvNs, ['cat', `/sys/class/net/${link.recvIf}/statistics/tx_packets`]).trim());
}

export function deleteRecvInterface(link: VethLink): void {
  run(['ip', '-n', link.recvNs, 'link', 'del', 'dev', link.recvIf]);
}

/** What `ethtool -k` says about VLAN offload on the receiving end ('' without ethtool). */
export function recvVlanOffload(link: VethLink): string {
  const r = spawnSync('ip', ['netns', 'exec', link.recvNs, 'ethtool', '-k', link.recvIf], { encoding: 'utf8' });
  if (r.status !== 0) return '';
  return r.stdout.split('\n').filter((l) => /vlan/.test(l)).map((l) => l.trim()).join('; ');
}

export interface ReplayOptions {
  /** Rate limit in Mbit/s; default --topspeed. */
  mbps?: number;
  /** Rate limit in packets/s (instead of mbps). */
  pps?: number;
  /** Send the file this many times (tcpreplay --loop). */
  loop?: number;
}

/** Replays a capture from the sending namespace; returns the number of frames sent. */
export function replay(link: VethLink, pcapPath: string, opts: ReplayOptions = {}): number {
  return replayTimed(link, pcapPath, opts).sent;
}

/**
 * Like replay(), and also tcpreplay's CPU seconds (user+sys, from the shell's
 * `times`): the kernel runs socket filters and delivery in the sender's
 * context, so this is where kernel-side filtering cost shows up.
 */
export function replayTimed(link: VethLink, pcapPath: string, opts: ReplayOptions = {}): { sent: number; senderCpu: number } {
  const argv = tcpreplayArgv(link, pcapPath, opts);
  const script = `${argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} || exit $?; times`;
  const out = nsRun(link.sendNs, ['bash', '-c', script]);
  // `times` prints the shell's own, then its children's user and system time.
  const times = [...out.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
  const senderCpu = times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN;
  return { sent: sentFrames(out, pcapPath), senderCpu };
}

function tcpreplayArgv(link: VethLink, pcapPath: string, opts: ReplayOptions): string[] {
  const argv = ['tcpreplay', '-i', link.sendIf];
  if (opts.pps !== undefined) argv.push(`--pps=${opts.pps}`);
  else argv.push(opts.mbps !== undefined ? `--mbps=${opts.mbps}` : '--topspeed');
  if (opts.loop !== undefined && opts.loop > 1) argv.push(`--loop=${opts.loop}`, '--preload-pcap');
  argv.push(pcapPath);
  return argv;
}

function sentFrames(out: string, pcapPath: string): number {
  const sent = /Actual: (\d+) packets/.exec(out);
  const failed = /Failed packets:\s+(\d+)/.exec(out);
  if (!sent) throw new Error(`tcpreplay output not understood:\n${out}`);
  if (failed && failed[1] !== '0') throw new Error(`tcpreplay could not send ${failed[1]} frames of ${pcapPath}:\n${out}`);
  return Number(sent[1]);
}

/** Runs a command without blocking the event loop; rejects on a non-zero exit with its output. */
export function runAsync(argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`'${argv.join(' ')}' exited with ${code}: ${err.trim()} ${out.trim()}`));
    });
  });
}

/** replay() without blocking the event loop, so clients can read the socket meanwhile. */
export async function replayAsync(link: VethLink, pcapPath: string, opts: ReplayOptions = {}): Promise<number> {
  const out = await runAsync(['ip', 'netns', 'exec', link.sendNs, ...tcpreplayArgv(link, pcapPath, opts)]);
  return sentFrames(out, pcapPath);
}
