/**
 * Hot-plug in service mode (mesh and VPN interfaces come and go on Gluon
 * nodes): a section whose interface is missing at start waits (without a
 * socket), attaches by itself when the interface appears (its socket appears
 * then, and it counts from the first frame), keeps its counters when the
 * interface vanishes under traffic and when it comes back (with a new MAC:
 * `$MAC` follows it), while the other sections keep counting. Totals are
 * exact across all phases, from the frames sent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { ALL_ID, expectedCounts, formatLines, PROBE_ID, type RuleDef } from '../support/live-count';
import { replay, type VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, countIn, createServiceNet, destroyServiceNet, FEED_PPS, interfaceMac, isSocket, NO_UBUS, removeVeth,
  replayFeeds, SectionExpectation, startServiceDaemon, uciText, verifySections, waitForSockets, waitForLog,
  type Feed, type ServiceNet, type WatchedSection,
} from '../support/service';
import { smallFrames } from '../support/small-frames';
import { readCounts } from '../support/socket-client';

/** EtherType of the filler frames sent while mesh0 is deleted: no rule counts them, so what a section keeps is exact. */
const FILLER_ETHERTYPE = 0x88b6;
const HARNESS: readonly RuleDef[] = [
  { id: PROBE_ID, expr: 'ether proto 0x88b5' },
  { id: ALL_ID, expr: `not ether proto 0x${FILLER_ETHERTYPE.toString(16)}` },
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
  const sock = (name: string): string => join(dir, `${name}.sock`);
  const sections = new Map<string, WatchedSection & { sees: () => string[] }>();
  const meshCaptures = [cap('eapon1.pcap'), cap('dcb_ets.pcap')];
  const lanCaptures = [cap('bgp-4byte-asn.pcap')];
  const feeds = (): Feed[] => [
    ...(mesh ? [{ link: mesh, captures: meshCaptures }] : []),
    { link: lan, captures: lanCaptures },
  ];
  const countRound = async (): Promise<void> => {
    assert.ok(daemon);
    for (const s of sections.values()) for (const c of s.sees()) s.expect.add(c);
    replayFeeds(feeds(), FEED_PPS);
    assert.deepEqual(await verifySections(daemon, [...sections.values()]), [], `counters vs libpcap. ${daemon.describe()}`);
  };
  /** Creates the mesh interface and waits until both mesh sections attach; returns how long that took. */
  const plugMesh = async (mac: string): Promise<number> => {
    assert.ok(net && daemon);
    const from = daemon.log.length;
    mesh = addVeth(net, 'mesh0', 'pmesh0', mac);
    // From the moment the interface is up (creating it takes a few `ip` commands).
    const t0 = Date.now();
    await waitForLog(daemon, /mesh_in: counting[^]*mesh_any: counting|mesh_any: counting[^]*mesh_in: counting/, from, 5000);
    return Date.now() - t0;
  };

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-hotplug-'));
    net = createServiceNet();
    lan = addVeth(net, 'eth0', 'peer0');
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('interface missing at start: no socket; it attaches by itself when the interface appears and counts from the first frame', async () => {
    assert.ok(net);
    const config = join(dir, 'bpfcountd');
    writeFileSync(config, uciText([
      { name: 'lan', options: { ifname: 'eth0', socket: sock('lan') }, rules: LAN_RULES },
      { name: 'mesh_in', options: { ifname: 'mesh0', prefilter: 'inbound', socket: sock('mesh_in') }, rules: MESH_RULES },
      { name: 'mesh_any', options: { ifname: 'mesh0', socket: sock('mesh_any') }, rules: MESH_RULES },
    ]));
    daemon = startServiceDaemon(net, ['-c', config, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], sock('lan'));
    await waitForSockets(daemon, [sock('lan')]);
    await waitForLog(daemon, /serving 3 instances: lan, mesh_in, mesh_any\n/);
    for (const name of ['mesh_in', 'mesh_any']) assert.equal(isSocket(sock(name)), false, `${name}: no socket while waiting`);
    assert.doesNotMatch(daemon.log, /mesh_(in|any): counting/, 'no capture on a missing interface');

    sections.set('lan', { name: 'lan', socket: sock('lan'), sees: () => lanCaptures, expect: new SectionExpectation(LAN_RULES, interfaceMac(lan)) });
    await countRound();
    // Still waiting after a while, still no socket.
    await sleep(1200);
    for (const name of ['mesh_in', 'mesh_any']) assert.equal(isSocket(sock(name)), false, `${name}: still no socket`);

    const took = await plugMesh(MAC_A);
    assert.ok(took <= 3000, `attached ${took} ms after the interface appeared (polls every second)`);
    assert.ok(mesh);
    const appeared = await waitForSockets(daemon, [sock('mesh_in'), sock('mesh_any')]);
    for (const name of ['mesh_in', 'mesh_any']) {
      assert.deepEqual(formatLines(appeared.get(sock(name)) ?? []), MESH_RULES.map((r) => `${r.id}:0:0`), `${name}: starts at 0`);
    }
    sections.set('mesh_in', { name: 'mesh_in', socket: sock('mesh_in'), sees: () => (mesh ? meshCaptures : []),
      expect: new SectionExpectation(MESH_RULES, MAC_A) });
    sections.set('mesh_any', { name: 'mesh_any', socket: sock('mesh_any'), sees: () => (mesh ? meshCaptures : []),
      expect: new SectionExpectation(MESH_RULES, MAC_A) });
    await countRound();
    await countRound();
    assert.ok(countIn(await readCounts(sock('mesh_any')), 'to-me').packets > 0, '$MAC rule counted something');
  });

  test('interface deleted under traffic: counters kept (exactly the frames sent before), other sections go on; re-created: continues', async () => {
    assert.ok(net && daemon && mesh);
    // A stream of known frames, all counted...
    const stream = join(dir, 'stream.pcap');
    writeEthernetPcap(stream, smallFrames(STREAM_FRAMES, MAC_A));
    for (const name of ['mesh_in', 'mesh_any']) sections.get(name)?.expect.add(stream);
    replay(mesh, stream, { pps: FEED_PPS });
    assert.deepEqual(await verifySections(daemon, [...sections.values()]), [], `the stream vs libpcap. ${daemon.describe()}`);

    // ... then the interface is deleted while filler frames (which no rule counts) flow into it.
    const filler = Buffer.alloc(60);
    Buffer.from([0x02, 0xb0, 0xcf, 0, 0, 0x77, 0x02, 0xb0, 0xcf, 0, 0, 0x78]).copy(filler, 0);
    filler.writeUInt16BE(FILLER_ETHERTYPE, 12);
    const fillerPcap = join(dir, 'filler.pcap');
    writeEthernetPcap(fillerPcap, [filler]);
    const sender = spawn('ip', ['netns', 'exec', mesh.sendNs, 'tcpreplay', '-i', mesh.sendIf, '--pps=1000', '--loop=20000', '--preload-pcap', fillerPcap],
      { stdio: 'ignore' });
    const senderDone = new Promise<void>((resolve) => sender.on('exit', () => resolve()));
    try {
      await sleep(500);
      assert.equal(sender.exitCode, null, 'the filler still flows when the interface goes');
      const from = daemon.log.length;
      removeVeth(net, mesh);
      mesh = undefined;
      await waitForLog(daemon, /mesh_in: [^\n]*waiting for it \(counters kept\)[^]*mesh_any: [^\n]*waiting|mesh_any: [^\n]*waiting for it \(counters kept\)[^]*mesh_in: [^\n]*waiting/, from, 5000);
    } finally {
      sender.kill('SIGKILL');
      await senderDone;
    }
    // What each mesh section kept is exactly what libpcap counts of the frames sent before.
    assert.deepEqual(await verifySections(daemon, [...sections.values()]), [], `kept counters vs libpcap. ${daemon.describe()}`);

    // While mesh0 is gone: the kept counters stay put, lan counts on exactly.
    const keptAny = sections.get('mesh_any')?.expect.expected() ?? [];
    await countRound();
    await sleep(1200);
    assert.deepEqual(formatLines(await readCounts(sock('mesh_any'))), keptAny, 'counters kept while waiting');

    // Back, same name, another MAC: counting continues from the kept values, `$MAC` is the new address.
    const toMeKept = countIn(sections.get('mesh_any')?.expect.lines ?? [], 'to-me').packets;
    const took = await plugMesh(MAC_B);
    assert.ok(took <= 3000, `re-attached ${took} ms after the interface came back`);
    assert.ok(mesh);
    assert.deepEqual(formatLines(await readCounts(sock('mesh_any'))), keptAny, 'not reset by the re-attach');
    for (const name of ['mesh_in', 'mesh_any']) sections.get(name)?.expect.setMac(MAC_B);
    await countRound();
    await countRound();
    // Not only covered by the exact comparison: libpcap's `to-me` differs between the two MACs, and the daemon used MAC_B.
    const toMe = (mac: string): number => meshCaptures.reduce((n, c) => n + expectedCounts(c, [{ id: 'to-me', expr: 'ether dst $MAC' }], mac)[0].packets, 0);
    assert.notEqual(toMe(MAC_A), toMe(MAC_B));
    assert.equal(countIn(await readCounts(sock('mesh_any')), 'to-me').packets - toMeKept, 2 * toMe(MAC_B), '`$MAC` is the new address');
    const exit = await daemon.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.describe());
  });
});
