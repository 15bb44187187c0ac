/**
 * Service mode as a router uses it: ONE daemon process serves every enabled
 * `config bpfcountd` section of a UCI file: `inbound` and `outbound` sections
 * on the same interface, a section without prefilter there too, sections on
 * other interfaces (filterfile, inline `list rule`s, both), a disabled
 * section. Every section's counters must equal libpcap's counts of exactly
 * the frames that crossed its interface in its direction.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Daemon } from '../support/daemon';
import { ALL_ID, PROBE_ID, ruleFileText, type RuleDef } from '../support/live-count';
import type { VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { REPO_ROOT, TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, interfaceMac, isSocket, NO_UBUS, outboundOf, replayFeeds,
  SectionExpectation, startServiceDaemon, uciText, verifySections, waitForSockets, waitForLog, FEED_PPS, type Feed, type ServiceNet,
  type WatchedSection,
} from '../support/service';
import { smallFrames } from '../support/small-frames';

const HARNESS: readonly RuleDef[] = [
  { id: PROBE_ID, expr: 'ether proto 0x88b5' },
  { id: ALL_ID, expr: 'greater 0' },
];

/** bench/freifunk.filters (18 Gluon-style rules, with $MAC) plus the harness rules: 20 rules. */
function freifunkRules(): RuleDef[] {
  const lines = readFileSync(join(REPO_ROOT, 'bench', 'freifunk.filters'), 'utf8').split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return [...lines.map((l) => ({ id: l.slice(0, l.indexOf(';')), expr: l.slice(l.indexOf(';') + 1) })), ...HARNESS];
}

const INLINE_RULES: readonly RuleDef[] = [
  { id: 'mc', expr: 'ether multicast' },
  { id: 'v6-mc', expr: 'ip6 and ${mc}' },
  { id: 'mine', expr: 'ether host $MAC' },
  { id: 'tcp', expr: 'tcp' },
  { id: 'arp', expr: 'arp' },
  ...HARNESS,
];

/** eth1's filterfile part; its section adds INLINE_EXTRA after it. */
const ETH1_FILE_RULES: readonly RuleDef[] = [
  { id: 'ip4', expr: 'ip' },
  { id: 'udp', expr: 'udp' },
  { id: 'vrrp', expr: 'ip proto 112 or ip6 proto 112' },
];
const ETH1_LIST_RULES: readonly RuleDef[] = [
  { id: 'mc4', expr: 'ip multicast' },
  { id: 'arp-or-udp', expr: 'arp or udp' },
  ...HARNESS,
];
const ETH1_PREFILTER = 'not arp';

const cap = (name: string): string => join(TEST_PCAPS, name);

describe('service: one process, several sections', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-multi-'));
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('inbound/outbound/any sections on one interface, sections on others, disabled section: exact per section', async () => {
    net = createServiceNet();
    const eth0 = addVeth(net, 'eth0', 'peer0', '02:00:5e:10:00:01');
    const eth1 = addVeth(net, 'eth1', 'peer1', '02:00:5e:10:00:02');
    const eth2 = addVeth(net, 'eth2', 'peer2');

    // The router's own traffic out of eth0: small frames, some from and to its MAC.
    const mac0 = interfaceMac(eth0);
    const outSmall = join(dir, 'out-small.pcap');
    writeEthernetPcap(outSmall, smallFrames(400, mac0).map((f, i) => {
      const g = Buffer.from(f);
      if (i % 3 === 0) Buffer.from(mac0.split(':').map((h) => parseInt(h, 16))).copy(g, 6);
      return g;
    }));

    const freifunkFile = join(dir, 'freifunk.filters');
    writeFileSync(freifunkFile, ruleFileText(freifunkRules()));
    const eth1File = join(dir, 'eth1.filters');
    writeFileSync(eth1File, ruleFileText(ETH1_FILE_RULES));
    const sock = (name: string): string => join(dir, `${name}.sock`);
    writeFileSync(join(dir, 'bpfcountd'), uciText([
      { name: 'eth0_in', options: { ifname: 'eth0', prefilter: 'inbound', filterfile: freifunkFile, buffersize: '131072', socket: sock('eth0_in') } },
      { name: 'eth0_out', options: { ifname: 'eth0', prefilter: 'outbound', filterfile: freifunkFile, buffersize: '131072', socket: sock('eth0_out') } },
      { name: 'eth0_any', options: { ifname: 'eth0', socket: sock('eth0_any') }, rules: INLINE_RULES },
      { name: 'eth0_off', options: { ifname: 'eth0', filterfile: freifunkFile, disabled: '1', socket: sock('eth0_off') } },
      { name: 'eth1_in', options: { ifname: 'eth1', prefilter: ETH1_PREFILTER, filterfile: eth1File, socket: sock('eth1_in') }, rules: ETH1_LIST_RULES },
      { name: 'eth2_x', options: { ifname: 'eth2', filterfile: freifunkFile, disabled: '0', socket: sock('eth2_x') } },
    ]));

    // `-c <dir>` means <dir>/bpfcountd, as with UCI_CONFIG_DIR.
    daemon = startServiceDaemon(net, ['-c', dir, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], sock('eth0_in'));
    const served = ['eth0_in', 'eth0_out', 'eth0_any', 'eth1_in', 'eth2_x'];
    const first = await waitForSockets(daemon, served.map(sock));
    for (const [path, lines] of first) {
      assert.deepEqual(lines.filter((l) => l.packets !== 0 || l.bytes !== 0), [], `${path}: counters not zero before any replay`);
    }
    await waitForLog(daemon, /serving 5 instances: /);
    assert.match(daemon.log, /serving 5 instances: eth0_in, eth0_out, eth0_any, eth1_in, eth2_x\n/);
    assert.equal(isSocket(sock('eth0_off')), false, 'a disabled section has no socket');
    assert.deepEqual([...first.get(sock('eth1_in')) ?? []].map((l) => l.id), [...ETH1_FILE_RULES, ...ETH1_LIST_RULES].map((r) => r.id),
      'filterfile rules first, then the list rules, in order');

    // A socket exists once its capture counts: the replay starts right away, and is counted from its first frame.
    const out0: VethLink = outboundOf(eth0);

    const inbound0 = [cap('eapon1.pcap'), cap('dcb_ets.pcap')];
    const outbound0 = [outSmall, cap('bgp-4byte-asn.pcap')];
    const into1 = [cap('vrrp.pcap'), cap('eapon1.pcap'), cap('IGMP_V2.pcap')];
    const into2 = [cap('afs.pcap'), cap('icmpv6.pcap')];
    const feeds: Feed[] = [
      { link: eth0, captures: inbound0 }, { link: out0, captures: outbound0 },
      { link: eth1, captures: into1 }, { link: eth2, captures: into2 },
    ];

    const mac1 = interfaceMac(eth1);
    const eth1Rules = [...ETH1_FILE_RULES, ...ETH1_LIST_RULES];
    // The prefilter is ANDed before every rule: libpcap counts `(prefilter) and (rule)`.
    const eth1Oracle = eth1Rules.map((r) => ({ id: r.id, expr: `(${ETH1_PREFILTER}) and (${r.expr})` }));
    const watched: Array<WatchedSection & { sees: string[] }> = [
      { name: 'eth0_in', sees: inbound0, expect: new SectionExpectation(freifunkRules(), mac0) },
      { name: 'eth0_out', sees: outbound0, expect: new SectionExpectation(freifunkRules(), mac0) },
      { name: 'eth0_any', sees: [...inbound0, ...outbound0], expect: new SectionExpectation(INLINE_RULES, mac0) },
      { name: 'eth1_in', sees: into1, expect: new SectionExpectation(eth1Oracle, mac1) },
      { name: 'eth2_x', sees: into2, expect: new SectionExpectation(freifunkRules(), interfaceMac(eth2)) },
    ].map((w) => ({ ...w, socket: sock(w.name) }));

    // Twice: counters add up across rounds.
    for (const round of [1, 2]) {
      for (const w of watched) for (const c of w.sees) w.expect.add(c);
      replayFeeds(feeds, FEED_PPS);
      assert.deepEqual(await verifySections(daemon, watched), [], `counters vs libpcap, round ${round}. ${daemon.describe()}`);
    }
    // Not trivially equal: the two directions saw different frames.
    assert.notDeepEqual(watched[0].expect.lines, watched[1].expect.lines);
    // (_probe counts nothing: no probes are sent any more.)
    assert.ok(watched.every((w) => w.expect.lines.filter((l) => l.id !== PROBE_ID && l.packets > 0).length >= 3), 'several rules of every section counted something');
    assert.equal(isSocket(sock('eth0_off')), false, 'the disabled section still has no socket');

    const exit = await daemon.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.describe());
    for (const name of served) assert.equal(isSocket(sock(name)), false, `${name}: socket removed on exit`);
  });
});
