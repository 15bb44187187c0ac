/**
 * Hot-plug in service mode (mesh and VPN interfaces come and go on Gluon
 * nodes): a section whose interface is missing at start waits (its socket
 * answers with zeros), attaches by itself when the interface appears, keeps
 * its counters when the interface vanishes under traffic and when it comes
 * back (with a new MAC: `$MAC` follows it), while the other sections keep
 * counting. Totals are exact across all phases.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, probeFrame, PROBE_ID, type RuleDef } from '../support/live-count';
import type { VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, countIn, createServiceNet, destroyServiceNet, FEED_PPS, interfaceMac, NO_UBUS, probeUntilCounted, removeVeth,
  replayFeeds, SectionExpectation, startServiceDaemon, uciText, verifySections, waitForSockets, waitForStderr, WARM_UP_PPS,
  type Feed, type ServiceNet, type WatchedSection,
} from '../support/service';
import { smallFrames } from '../support/small-frames';
import { readCounts, type CountLine } from '../support/socket-client';

const HARNESS: readonly RuleDef[] = [
  { id: PROBE_ID, expr: 'ether proto 0x88b5' },
  { id: ALL_ID, expr: 'greater 0' },
];
/** Rules the daemon evaluates on its one shared capture (so a frame is counted by all of them or none). */
const MESH_RULES: readonly RuleDef[] = [
  { id: 'to-me', expr: 'ether dst $MAC' },
  { id: 'arp', expr: 'arp' },
  { id: 'bcast', expr: 'ether broadcast' },
  { id: 'mcast', expr: 'ether multicast and not ether broadcast' },
  { id: 'ip', expr: 'ip' },
  { id: 'ip6', expr: 'ip6' },
  ...HARNESS,
];
const LAN_RULES: readonly RuleDef[] = [
  { id: 'tcp', expr: 'tcp' },
  { id: 'arp', expr: 'arp' },
  { id: 'bcast', expr: 'ether broadcast' },
  ...HARNESS,
];
/** The two unicast addresses eapon1.pcap sends to most (26 and 16 frames): `to-me` counts under either. */
const MAC_A = '00:04:23:57:a5:7a';
const MAC_B = '00:0c:ce:88:31:9a';
const STREAM_FRAMES = 400;

const cap = (name: string): string => join(TEST_PCAPS, name);

describe('service: hot-plug', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;
  let lan: VethLink;
  let mesh: VethLink | undefined;
  let probePcap = '';
  const sock = (name: string): string => join(dir, `${name}.sock`);
  const sections = new Map<string, WatchedSection & { sees: () => string[] }>();
  const meshCaptures = [cap('eapon1.pcap'), cap('dcb_ets.pcap')];
  const lanCaptures = [cap('bgp-4byte-asn.pcap')];
  const feeds = (): Feed[] => [
    ...(mesh ? [{ link: mesh, captures: meshCaptures }] : []),
    { link: lan, captures: lanCaptures },
  ];
  const countRound = async (mode: 'warm-up' | 'exact'): Promise<void> => {
    assert.ok(daemon);
    for (const s of sections.values()) for (const c of s.sees()) s.expect.add(c);
    replayFeeds(feeds(), mode === 'warm-up' ? WARM_UP_PPS : FEED_PPS);
    assert.deepEqual(await verifySections(daemon, [...sections.values()], mode), [], `counters vs libpcap (${mode}). ${daemon.describe()}`);
  };
  /** Creates the mesh interface and waits until both mesh sections attach; returns how long that took. */
  const plugMesh = async (mac: string): Promise<number> => {
    assert.ok(net && daemon);
    const from = daemon.stderr.length;
    mesh = addVeth(net, 'mesh0', 'pmesh0', mac);
    // From the moment the interface is up (creating it takes a few `ip` commands).
    const t0 = Date.now();
    await waitForStderr(daemon, /mesh_in: counting[^]*mesh_any: counting|mesh_any: counting[^]*mesh_in: counting/, from, 5000);
    return Date.now() - t0;
  };

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-hotplug-'));
    net = createServiceNet();
    lan = addVeth(net, 'eth0', 'peer0');
    probePcap = join(dir, 'probe.pcap');
    writeEthernetPcap(probePcap, [probeFrame()]);
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('interface missing at start: its socket answers zeros; it attaches by itself when the interface appears', async () => {
    assert.ok(net);
    const config = join(dir, 'bpfcountd');
    writeFileSync(config, uciText([
      { name: 'lan', options: { ifname: 'eth0', socket: sock('lan') }, rules: LAN_RULES },
      { name: 'mesh_in', options: { ifname: 'mesh0', prefilter: 'inbound', socket: sock('mesh_in') }, rules: MESH_RULES },
      { name: 'mesh_any', options: { ifname: 'mesh0', socket: sock('mesh_any') }, rules: MESH_RULES },
    ]));
    daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], sock('lan'));
    const first = await waitForSockets(daemon, [sock('lan'), sock('mesh_in'), sock('mesh_any')]);
    await waitForStderr(daemon, /serving 3 instances: lan, mesh_in, mesh_any\n/);
    for (const name of ['mesh_in', 'mesh_any']) {
      assert.deepEqual(formatLines(first.get(sock(name)) ?? []), MESH_RULES.map((r) => `${r.id}:0:0`), `${name}: zeros while waiting`);
    }
    assert.doesNotMatch(daemon.stderr, /mesh_(in|any): counting/, 'no capture on a missing interface');

    sections.set('lan', { name: 'lan', socket: sock('lan'), directional: false, sees: () => lanCaptures,
      expect: new SectionExpectation(LAN_RULES, interfaceMac(lan), probePcap) });
    await probeUntilCounted(daemon, [{ socket: sock('lan'), link: lan }], probePcap);
    await countRound('exact');
    // Still waiting after a while, still zeros.
    await sleep(1200);
    assert.deepEqual(formatLines(await readCounts(sock('mesh_in'))), MESH_RULES.map((r) => `${r.id}:0:0`));

    const took = await plugMesh(MAC_A);
    assert.ok(took <= 3000, `attached ${took} ms after the interface appeared (polls every second)`);
    assert.ok(mesh);
    sections.set('mesh_in', { name: 'mesh_in', socket: sock('mesh_in'), directional: true, sees: () => (mesh ? meshCaptures : []),
      expect: new SectionExpectation(MESH_RULES, MAC_A, probePcap) });
    sections.set('mesh_any', { name: 'mesh_any', socket: sock('mesh_any'), directional: false, sees: () => (mesh ? meshCaptures : []),
      expect: new SectionExpectation(MESH_RULES, MAC_A, probePcap) });
    await probeUntilCounted(daemon, [{ socket: sock('mesh_in'), link: mesh }, { socket: sock('mesh_any'), link: mesh }], probePcap);
    await countRound('warm-up');
    await countRound('exact');
    assert.ok(countIn(await readCounts(sock('mesh_any')), 'to-me').packets > 0, '$MAC rule counted something');
  });

  test('interface deleted under traffic: counters kept (exactly the frames seen before), other sections go on; re-created: continues', async () => {
    assert.ok(net && daemon && mesh);
    const streamFrames = smallFrames(STREAM_FRAMES, MAC_A);
    const stream = join(dir, 'stream.pcap');
    writeEthernetPcap(stream, streamFrames);
    const before = new Map<string, CountLine[]>();
    for (const name of ['mesh_in', 'mesh_any']) before.set(name, await readCounts(sock(name)));

    // A long paced stream into mesh0; the interface is deleted while it flows.
    const sender = spawn('ip', ['netns', 'exec', mesh.sendNs, 'tcpreplay', '-i', mesh.sendIf, '--pps=1000', '--loop=20', '--preload-pcap', stream],
      { stdio: 'ignore' });
    const senderDone = new Promise<void>((resolve) => sender.on('exit', () => resolve()));
    try {
      const deadline = Date.now() + 5000;
      while (countIn(await readCounts(sock('mesh_any')), ALL_ID).packets - countIn(before.get('mesh_any') ?? [], ALL_ID).packets < 300) {
        assert.ok(Date.now() < deadline, `the stream did not reach the daemon. ${daemon.describe()}`);
        await sleep(50);
      }
      const from = daemon.stderr.length;
      removeVeth(net, mesh);
      mesh = undefined;
      await waitForStderr(daemon, /mesh_in: [^\n]*waiting for it \(counters kept\)[^]*mesh_any: [^\n]*waiting|mesh_any: [^\n]*waiting for it \(counters kept\)[^]*mesh_in: [^\n]*waiting/, from, 5000);
    } finally {
      sender.kill('SIGKILL');
      await senderDone;
    }

    // What each mesh section kept must be exactly a first part of the stream, as libpcap counts it.
    for (const name of ['mesh_in', 'mesh_any']) {
      const s = sections.get(name);
      assert.ok(s);
      const kept = await readCounts(sock(name));
      const seen = countIn(kept, ALL_ID).packets - countIn(before.get(name) ?? [], ALL_ID).packets;
      assert.ok(seen >= 300 && seen <= STREAM_FRAMES * 20, `${name}: ${seen} stream frames counted`);
      const prefix = join(dir, `prefix-${name}.pcap`);
      writeEthernetPcap(prefix, Array.from({ length: seen }, (_, i) => streamFrames[i % STREAM_FRAMES]));
      const add = expectedCounts(prefix, MESH_RULES, MAC_A);
      const want = (before.get(name) ?? []).map((l, i) => ({ id: l.id, packets: l.packets + add[i].packets, bytes: l.bytes + add[i].bytes }));
      assert.deepEqual(formatLines(kept), formatLines(want), `${name}: kept counters = before + libpcap's count of the first ${seen} stream frames. ${daemon?.describe() ?? ''}`);
      s.expect.rebase(kept);
    }

    // While mesh0 is gone: the kept counters stay put, lan counts on exactly.
    const keptAny = formatLines(await readCounts(sock('mesh_any')));
    await countRound('exact');
    await sleep(1200);
    assert.deepEqual(formatLines(await readCounts(sock('mesh_any'))), keptAny, 'counters kept while waiting');

    // Back, same name, another MAC: counting continues from the kept values, `$MAC` is the new address.
    const toMeKept = countIn(await readCounts(sock('mesh_any')), 'to-me').packets;
    const took = await plugMesh(MAC_B);
    assert.ok(took <= 3000, `re-attached ${took} ms after the interface came back`);
    assert.ok(mesh);
    assert.deepEqual(formatLines(await readCounts(sock('mesh_any'))), keptAny, 'not reset by the re-attach');
    for (const name of ['mesh_in', 'mesh_any']) sections.get(name)?.expect.setMac(MAC_B);
    await probeUntilCounted(daemon, [{ socket: sock('mesh_in'), link: mesh }, { socket: sock('mesh_any'), link: mesh }], probePcap);
    await countRound('warm-up');
    await countRound('exact');
    // Not only covered by the exact comparison: libpcap's `to-me` differs between the two MACs, and the daemon used MAC_B.
    const toMe = (mac: string): number => meshCaptures.reduce((n, c) => n + expectedCounts(c, [{ id: 'to-me', expr: 'ether dst $MAC' }], mac)[0].packets, 0);
    assert.notEqual(toMe(MAC_A), toMe(MAC_B));
    assert.equal(countIn(await readCounts(sock('mesh_any')), 'to-me').packets - toMeKept, 2 * toMe(MAC_B), '`$MAC` is the new address');
    const exit = await daemon.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.describe());
  });
});
