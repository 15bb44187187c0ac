/**
 * SIGHUP in service mode, as `/etc/init.d/bpfcountd reload` and the
 * `start/stop <section>` runtime markers use it: counters of unchanged rules
 * are kept, a changed rule restarts at 0, removed rules and sections vanish
 * (their socket too), new ones start at 0; a configuration with an error is
 * reported with file:line and the running one keeps counting untouched.
 * The daemon is signalled through its --pid-file, as the init script does.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { ALL_ID, formatLines, PROBE_ID, ruleFileText, type RuleDef } from '../support/live-count';
import type { VethLink } from '../support/netns';
import { ensureOracle } from '../support/oracle';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, FEED_PPS, interfaceMac, isSocket, NO_UBUS, replayFeeds,
  SectionExpectation, startServiceDaemon, uciText, verifySections, waitForSockets, waitForLog, writeAtomically,
  type Feed, type ServiceNet, type UciSectionDef, type WatchedSection,
} from '../support/service';
import { readCounts, type CountLine } from '../support/socket-client';

const HARNESS: readonly RuleDef[] = [
  { id: PROBE_ID, expr: 'ether proto 0x88b5' },
  { id: ALL_ID, expr: 'greater 0' },
];
const LAN_V1: readonly RuleDef[] = [
  { id: 'keep', expr: 'arp or udp' },
  { id: 'change', expr: 'ip' },
  { id: 'drop', expr: 'ether multicast' },
  { id: 'mine', expr: 'ether dst $MAC' },
  { id: 'also-keep', expr: '${keep} and not ${mine}' },
  ...HARNESS,
];
const LAN_V2: readonly RuleDef[] = [
  { id: 'keep', expr: 'arp or udp' },
  { id: 'change', expr: 'ip and not udp' },
  { id: 'mine', expr: 'ether dst $MAC' },
  { id: 'fresh', expr: 'udp' },
  { id: 'also-keep', expr: '${keep} and not ${mine}' },
  ...HARNESS,
];
const WAN_RULES: readonly RuleDef[] = [
  { id: 'tcp', expr: 'tcp' },
  { id: 'bgp', expr: 'tcp port 179' },
  { id: 'vrrp', expr: 'ip proto 112 or ip6 proto 112' },
  { id: 'bcast', expr: 'ether broadcast' },
  ...HARNESS,
];
const ETH2_RULES: readonly RuleDef[] = [
  { id: 'igmp', expr: 'igmp' },
  { id: 'icmp6', expr: 'icmp6' },
  ...HARNESS,
];
/** libpcap: "illegal port number 70000 > 65535". */
const REFUSED_RULE: RuleDef = { id: 'bad-port', expr: 'udp port 70000' };

const cap = (name: string): string => join(TEST_PCAPS, name);

describe('service: reload (SIGHUP)', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;
  let eth0: VethLink;
  let eth1: VethLink;
  let eth2: VethLink;
  let mainFile = '';
  let runtimeDir = '';
  let pidFile = '';
  let wanFile = '';
  const sock = (name: string): string => join(dir, `${name}.sock`);
  const feeds = (): Feed[] => [
    { link: eth0, captures: [cap('eapon1.pcap'), cap('dcb_ets.pcap')] },
    { link: eth1, captures: [cap('bgp-4byte-asn.pcap'), cap('vrrp.pcap')] },
    { link: eth2, captures: [cap('IGMP_V2.pcap'), cap('icmpv6.pcap')] },
  ];
  const watched = new Map<string, WatchedSection & { sees: string[]; link: VethLink }>();
  /** Watches a section from now on; `expect` (default: all zeros) is what it has counted so far. */
  const watch = (name: string, rules: readonly RuleDef[], link: VethLink, expect = new SectionExpectation(rules, interfaceMac(link))): SectionExpectation => {
    const sees = feeds().find((f) => f.link === link)?.captures ?? [];
    watched.set(name, { name, socket: sock(name), expect, sees: [...sees], link });
    return expect;
  };
  /** One replay round of every feed, checked against libpcap for every watched section. */
  const countRound = async (): Promise<void> => {
    assert.ok(daemon);
    for (const w of watched.values()) for (const c of w.sees) w.expect.add(c);
    replayFeeds(feeds(), FEED_PPS);
    assert.deepEqual(await verifySections(daemon, [...watched.values()]), [], `counters vs libpcap. ${daemon.describe()}`);
  };
  const sighup = (): number => {
    assert.ok(daemon);
    const from = daemon.log.length;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.equal(pid, daemon.pid, 'the pid file names the daemon');
    process.kill(pid, 'SIGHUP');
    return from;
  };
  const lanV2Sections = (): UciSectionDef[] => [
    { name: 'lan_in', options: { ifname: 'eth0', prefilter: 'inbound', socket: sock('lan_in') }, rules: LAN_V2 },
    { name: 'wan', options: { ifname: 'eth1', filterfile: wanFile, socket: sock('wan') } },
    { name: 'added', options: { ifname: 'eth2', socket: sock('added') }, rules: ETH2_RULES },
  ];
  const snapshot = async (name: string): Promise<CountLine[]> => readCounts(sock(name));

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-reload-'));
    net = createServiceNet();
    // $MAC = the unicast address eapon1.pcap talks to most, so `mine` counts something.
    eth0 = addVeth(net, 'eth0', 'peer0', busiestUnicastMac(readClassicPcap(cap('eapon1.pcap'))));
    eth1 = addVeth(net, 'eth1', 'peer1');
    eth2 = addVeth(net, 'eth2', 'peer2');
    mkdirSync(join(dir, 'etc'));
    mainFile = join(dir, 'etc', 'bpfcountd');
    runtimeDir = join(dir, 'runtime');
    mkdirSync(runtimeDir);
    pidFile = join(dir, 'bpfcountd.pid');
    wanFile = join(dir, 'wan.filters');
    writeFileSync(wanFile, ruleFileText(WAN_RULES));
  });
  after(async () => {
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('start: three sections count exactly', async () => {
    assert.ok(net);
    writeFileSync(mainFile, uciText([
      { name: 'lan_in', options: { ifname: 'eth0', prefilter: 'inbound', socket: sock('lan_in') }, rules: LAN_V1 },
      { name: 'wan', options: { ifname: 'eth1', filterfile: wanFile, socket: sock('wan') } },
      { name: 'gone', options: { ifname: 'eth2', socket: sock('gone') }, rules: ETH2_RULES },
    ]));
    daemon = startServiceDaemon(net, ['-c', mainFile, '--runtime-dir', runtimeDir, '--pid-file', pidFile, NO_UBUS], sock('lan_in'));
    await waitForSockets(daemon, [sock('lan_in'), sock('wan'), sock('gone')]);
    await waitForLog(daemon, /serving 3 instances/);
    watch('lan_in', LAN_V1, eth0);
    watch('wan', WAN_RULES, eth1);
    watch('gone', ETH2_RULES, eth2);
    // Sockets appear once their captures count: replayed at once, counted from the first frame.
    await countRound();
    await countRound();
    const lan = await snapshot('lan_in');
    for (const id of ['keep', 'change', 'drop', 'mine', 'also-keep']) assert.ok(lan.find((l) => l.id === id)?.packets, `lan_in rule ${id} counted something`);
  });

  test('SIGHUP: unchanged rules keep counters, changed restart at 0, removed gone, new at 0; sections removed and added', async () => {
    assert.ok(daemon);
    const lanBefore = await snapshot('lan_in');
    const wanBefore = await snapshot('wan');
    writeAtomically(mainFile, uciText(lanV2Sections()));
    const from = sighup();
    await waitForLog(daemon, /added: added\n/, from);
    const log = daemon.log.slice(from);
    assert.match(log, /gone: removed\n/);
    assert.match(log, /lan_in: reloaded\n/);
    assert.doesNotMatch(log, /wan: (reloaded|removed)/, 'an unchanged section is left alone');

    assert.equal(isSocket(sock('gone')), false, "a removed section's socket is removed");
    const added = (await waitForSockets(daemon, [sock('added')])).get(sock('added')) ?? [];
    assert.deepEqual(formatLines(added), ETH2_RULES.map((r) => `${r.id}:0:0`), 'a new section starts at 0');
    assert.deepEqual(formatLines(await snapshot('wan')), formatLines(wanBefore), 'an unchanged section keeps every counter');

    // What libpcap counted before, for the rules kept; 0 for the changed and new ones.
    const lanExpect = watched.get('lan_in')?.expect.reloaded(LAN_V2);
    assert.ok(lanExpect);
    const lan = await snapshot('lan_in');
    assert.deepEqual(formatLines(lan), lanExpect.expected(), 'lan_in after reload: kept, changed (0), removed (absent), new (0)');
    assert.deepEqual(lan.map((l) => l.id), ['keep', 'change', 'mine', 'fresh', 'also-keep', PROBE_ID, ALL_ID]);
    assert.ok(lanBefore.length > 0 && lan.find((l) => l.id === 'change')?.packets === 0, 'a changed rule restarts at 0');

    // Counting goes on from there, exactly, from the first frame of the reopened and new captures.
    watched.delete('gone');
    watch('lan_in', LAN_V2, eth0, lanExpect);
    watch('added', ETH2_RULES, eth2);
    await countRound();
    await countRound();
  });

  test('SIGHUP with bad UCI syntax: refused with file:line, the running config keeps counting', async () => {
    assert.ok(daemon);
    const good = uciText(lanV2Sections());
    const bad = `${good}\nconfig bpfcountd 'extra'\n\toption ifname 'eth2'\n\tbogus 'x'\n`;
    const badLine = bad.split('\n').indexOf("\tbogus 'x'") + 1;
    // And the bad file would also drop a section: nothing of it may be applied.
    writeAtomically(mainFile, bad.replace(/config bpfcountd 'wan'[^]*?\n\n/, ''));
    const shifted = bad.replace(/config bpfcountd 'wan'[^]*?\n\n/, '').split('\n').indexOf("\tbogus 'x'") + 1;
    assert.ok(badLine > 0 && shifted > 0);
    const from = sighup();
    const log = await waitForLog(daemon, /reload refused/, from);
    assert.ok(log.includes(`${mainFile}:${shifted}:`), `stderr names ${mainFile}:${shifted}: ${log}`);
    await sleep(200);
    for (const name of ['lan_in', 'wan', 'added']) assert.ok(isSocket(sock(name)), `${name} still served`);
    await countRound();
    writeAtomically(mainFile, good);
  });

  test('SIGHUP with a rule libpcap refuses: refused with file:line, the running config keeps counting', async () => {
    assert.ok(daemon);
    const sections = lanV2Sections();
    sections[0] = { ...sections[0], rules: [...LAN_V2.slice(0, 3), REFUSED_RULE, ...LAN_V2.slice(3)] };
    // Dropping 'added' in the same file must not happen either.
    const text = uciText(sections.slice(0, 2));
    const line = text.split('\n').findIndex((l) => l.includes(REFUSED_RULE.expr)) + 1;
    writeAtomically(mainFile, text);
    const from = sighup();
    const log = await waitForLog(daemon, /reload refused/, from);
    assert.ok(log.includes(`${mainFile}:${line}:`), `stderr names ${mainFile}:${line}: ${log}`);
    assert.match(log, /70000/);
    await sleep(200);
    assert.ok(isSocket(sock('added')), "'added' still served");
    assert.deepEqual((await snapshot('lan_in')).map((l) => l.id), LAN_V2.map((r) => r.id), 'lan_in keeps its rules');
    await countRound();
    writeAtomically(mainFile, uciText(lanV2Sections()));
  });

  test('runtime markers: `start <other config>` (Gluon) adds its section, `stop` removes a main section; then reload', async () => {
    assert.ok(daemon);
    // Gluon's hook writes its own UCI dir and starts a section by name from there.
    const gluonDir = join(dir, 'gluon-config');
    mkdirSync(gluonDir);
    const gluonFile = join(gluonDir, 'bpfcountd');
    writeFileSync(gluonFile, uciText([{
      name: 'gluon_eth2_in', options: { ifname: 'eth2', prefilter: 'inbound', buffersize: '2097152', socket: sock('gluon_eth2_in') }, rules: ETH2_RULES,
    }]));
    writeAtomically(join(runtimeDir, 'gluon_eth2_in'), `start ${gluonFile}\n`);
    writeAtomically(join(runtimeDir, 'wan'), 'stop\n');
    let from = sighup();
    await waitForLog(daemon, /gluon_eth2_in: added\n/, from);
    assert.match(daemon.log.slice(from), /wan: removed\n/);
    assert.equal(isSocket(sock('wan')), false, 'a stopped section has no socket');
    await waitForSockets(daemon, [sock('gluon_eth2_in')]);
    watched.delete('wan');
    watch('gluon_eth2_in', ETH2_RULES, eth2);
    await countRound();

    // `start wan` removes the stop marker: back at 0; `stop gluon_eth2_in` replaces its start marker.
    rmSync(join(runtimeDir, 'wan'));
    writeAtomically(join(runtimeDir, 'gluon_eth2_in'), 'stop\n');
    from = sighup();
    await waitForLog(daemon, /wan: added\n/, from);
    assert.match(daemon.log.slice(from), /gluon_eth2_in: removed\n/);
    assert.equal(isSocket(sock('gluon_eth2_in')), false);
    const wan = (await waitForSockets(daemon, [sock('wan')])).get(sock('wan')) ?? [];
    assert.deepEqual(formatLines(wan), WAN_RULES.map((r) => `${r.id}:0:0`));
    watched.delete('gluon_eth2_in');
    watch('wan', WAN_RULES, eth1);
    await countRound();
  });

  test('SIGHUP with a refused rule in a NEW section: refused as a whole, nothing applied', async () => {
    assert.ok(daemon);
    const sections = lanV2Sections();
    const text = uciText([
      sections[0], sections[1],
      { name: 'bad_new', options: { ifname: 'eth2', socket: sock('bad_new') }, rules: [REFUSED_RULE, ...HARNESS] },
    ]);
    const line = text.split('\n').findIndex((l) => l.includes(REFUSED_RULE.expr)) + 1;
    writeAtomically(mainFile, text);
    const from = sighup();
    const log = await waitForLog(daemon, new RegExp(`${mainFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:`), from);
    await sleep(300);
    assert.ok(isSocket(sock('added')), `'added' (absent from the bad file) is still served; stderr: ${log}`);
    assert.equal(isSocket(sock('bad_new')), false, `the section with the refused rule is not served; stderr: ${log}`);
    await countRound();
  });

  test('SIGTERM: exit 0, every socket and the pid file removed', async () => {
    assert.ok(daemon);
    const exit = await daemon.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.describe());
    for (const name of ['lan_in', 'wan', 'added', 'gone', 'gluon_eth2_in', 'bad_new']) assert.equal(isSocket(sock(name)), false, name);
    assert.throws(() => readFileSync(pidFile), /ENOENT/);
  });
});
