/**
 * The very first frame a capture can see is counted: right after the socket
 * appears (it appears only once the capture counts), right after a reload
 * reopened every capture, and right after a hot-plugged interface was
 * attached again. With `inbound`, `outbound` and `ifindex` in kernel filters
 * (as prefilter of the shared capture and as rules on their own handles),
 * where libpcap's user-space re-filter of the first ring block or frame used
 * to lose it.
 *
 * Expected values: libpcap's counts (the oracle) of the frames sent, each
 * rule's direction-free part evaluated on the frames of its direction.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { formatLines, expectedCounts } from '../support/live-count';
import { nsRun, replay, run, type VethLink } from '../support/netns';
import { writeEthernetPcap } from '../support/pcap';
import { requireLiveEnvironment } from '../support/root';
import {
  createServiceNet, destroyServiceNet, NO_UBUS, outboundOf, startServiceDaemon, uciText, waitForSockets, waitForLog,
  writeAtomically, type ServiceNet,
} from '../support/service';
import { readCounts, type CountLine } from '../support/socket-client';

/** libpcap's buffer timeout is 250 ms: a wait for "nothing more" outlasts it twice over. */
const QUIET_MS = 700;

type Direction = 'in' | 'out';

/** A rule as the daemon gets it, and its direction-free part per direction (null: never matches there). */
interface FirstRule {
  id: string;
  live: (ifindex: number) => string;
  offline: Record<Direction, string | null>;
}

interface FirstSection {
  name: string;
  prefilter: (ifindex: number) => string;
  rules: FirstRule[];
}

const both = (expr: string): Record<Direction, string | null> => ({ in: expr, out: expr });
const onlyIn = (expr: string): Record<Direction, string | null> => ({ in: expr, out: null });
const onlyOut = (expr: string): Record<Direction, string | null> => ({ in: null, out: expr });

/** Every section counts ARP (shared capture) and has rules on own handles with kernel metadata. */
function sections(generation: number): FirstSection[] {
  // A reload changes one expression per capture: every handle is reopened.
  const g = ` and greater ${generation}`;
  return [
    { name: 'sec_in', prefilter: () => 'inbound', rules: [
      { id: 'arp', live: () => `arp${g}`, offline: onlyIn(`arp${g}`) },
      { id: 'req', live: () => `arp[6:2] == 1${g}`, offline: onlyIn(`arp[6:2] == 1${g}`) },
    ] },
    { name: 'sec_out', prefilter: () => 'outbound', rules: [
      { id: 'arp', live: () => `arp${g}`, offline: onlyOut(`arp${g}`) },
      { id: 'rep', live: () => `arp[6:2] == 2${g}`, offline: onlyOut(`arp[6:2] == 2${g}`) },
    ] },
    { name: 'sec_ifx', prefilter: (ifindex) => `ifindex ${ifindex}`, rules: [
      { id: 'arp', live: () => `arp${g}`, offline: both(`arp${g}`) },
    ] },
    { name: 'sec_plain', prefilter: () => '', rules: [
      { id: 'arp', live: () => `arp${g}`, offline: both(`arp${g}`) },
      { id: 'in', live: () => `inbound and arp${g}`, offline: onlyIn(`arp${g}`) },
      { id: 'out', live: () => `outbound and arp${g}`, offline: onlyOut(`arp${g}`) },
      { id: 'ifx', live: (ifindex) => `ifindex ${ifindex} and arp${g}`, offline: both(`arp${g}`) },
    ] },
  ];
}

function arpFrame(op: 1 | 2, seq: number): Buffer {
  const f = Buffer.alloc(60 + seq);
  f.fill(0xff, 0, 6);
  Buffer.from([0x02, 0xb0, 0xcf, 0, 0x11, seq]).copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  Buffer.from([0, 1, 8, 0, 6, 4, 0, op]).copy(f, 14);
  return f;
}

describe('service: the first frame after start, reload and re-attach is counted', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;

  before(() => {
    requireLiveEnvironment();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-first-'));
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('inbound, outbound and ifindex prefilters and rules, shared and own handles', async () => {
    net = createServiceNet();
    const ifname = 'first0';
    const peer = 'pfirst0';
    // A fixed ifindex, so that the re-created interface matches the same `ifindex` rules.
    const ifindex = 4000 + (process.pid % 1000);
    const addLink = (): VethLink => {
      run(['ip', 'link', 'add', ifname, 'netns', net!.daemonNs, 'index', String(ifindex), 'type', 'veth',
        'peer', 'name', peer, 'netns', net!.peerNs]);
      for (const [ns, dev] of [[net!.peerNs, peer], [net!.daemonNs, ifname]]) {
        nsRun(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
        run(['ip', '-n', ns, 'link', 'set', 'dev', dev, 'arp', 'off', 'multicast', 'off', 'up']);
      }
      return { sendNs: net!.peerNs, sendIf: peer, recvNs: net!.daemonNs, recvIf: ifname };
    };
    let link = addLink();
    assert.equal(nsRun(net.daemonNs, ['cat', `/sys/class/net/${ifname}/ifindex`]).trim(), String(ifindex));

    const config = join(dir, 'bpfcountd');
    const socketOf = (name: string): string => join(dir, `${name}.sock`);
    const write = (generation: number): void => writeAtomically(config, uciText(sections(generation).map((s) => ({
      name: s.name,
      options: { ifname, socket: socketOf(s.name), buffersize: '262144', ...(s.prefilter(ifindex) ? { prefilter: s.prefilter(ifindex) } : {}) },
      rules: s.rules.map((r) => ({ id: r.id, expr: r.live(ifindex) })),
    }))));

    // Expected counters per section, cumulative; a reload starts every (changed) rule at 0.
    const expected = new Map<string, CountLine[]>();
    const resetExpected = (generation: number): void => {
      for (const s of sections(generation)) expected.set(s.name, s.rules.map((r) => ({ id: r.id, packets: 0, bytes: 0 })));
    };
    let sent = 0;
    /** Sends one ARP request in and one ARP reply out, the first frames since the capture counts; adds libpcap's counts. */
    const sendFirstFrames = (generation: number): void => {
      const frames: Record<Direction, string> = { in: join(dir, `in-${sent}.pcap`), out: join(dir, `out-${sent}.pcap`) };
      writeEthernetPcap(frames.in, [arpFrame(1, sent)]);
      writeEthernetPcap(frames.out, [arpFrame(2, sent)]);
      sent++;
      assert.equal(replay(link, frames.in), 1);
      assert.equal(replay(outboundOf(link), frames.out), 1);
      for (const s of sections(generation)) {
        const lines = expected.get(s.name)!;
        for (const d of ['in', 'out'] as const) {
          s.rules.forEach((r, i) => {
            const expr = r.offline[d];
            if (expr === null) return;
            const [c] = expectedCounts(frames[d], [{ id: r.id, expr }], '00:00:00:00:00:00');
            lines[i].packets += c.packets;
            lines[i].bytes += c.bytes;
          });
        }
      }
    };
    const check = async (phase: string): Promise<void> => {
      const problems: string[] = [];
      for (const s of sections(0)) {
        const want = formatLines(expected.get(s.name)!);
        const deadline = Date.now() + 5000;
        let got: string[] = [];
        while (Date.now() < deadline) {
          got = formatLines(await readCounts(socketOf(s.name)));
          if (JSON.stringify(got) === JSON.stringify(want)) break;
          await sleep(50);
        }
        // Nothing more may arrive after the buffer timeout.
        await sleep(QUIET_MS);
        got = formatLines(await readCounts(socketOf(s.name)));
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${s.name} ${phase}: ${got.join(' ')} but libpcap says ${want.join(' ')}`);
      }
      assert.deepEqual(problems, [], `${problems.join('\n')}\n${daemon?.describe() ?? ''}`);
    };

    // 1. Start: frames sent as soon as every socket exists.
    write(0);
    resetExpected(0);
    daemon = startServiceDaemon(net, ['-c', config, NO_UBUS], socketOf('sec_in'));
    await waitForSockets(daemon, sections(0).map((s) => socketOf(s.name)));
    sendFirstFrames(0);
    await check('after start');

    // 2. Reload: every capture's filter changed, so every handle is new.
    let from = daemon.log.length;
    write(1);
    resetExpected(1);
    daemon.child.kill('SIGHUP');
    for (const s of sections(1)) await waitForLog(daemon, new RegExp(`${s.name}: reloaded`), from);
    sendFirstFrames(1);
    await check('after reload');

    // 3. Hot-plug: the interface goes and comes back (same name and index).
    from = daemon.log.length;
    run(['ip', '-n', net.daemonNs, 'link', 'del', 'dev', ifname]);
    for (const s of sections(1)) await waitForLog(daemon, new RegExp(`${s.name}: .*vanished`), from);
    from = daemon.log.length;
    link = addLink();
    for (const s of sections(1)) await waitForLog(daemon, new RegExp(`${s.name}: counting`), from);
    sendFirstFrames(1);
    await check('after re-attach');
  });
});
