/**
 * `ubus call bpfcountd ...` against the real daemon (dist/bpfcountd.js) in a
 * network namespace, through an emulated ubusd on a temporary unix socket:
 * what ubus answers must equal what the daemon's text socket says, and both
 * must equal libpcap's counts of the replayed frames. Service mode (a running
 * section with a prefilter, a waiting one that starts when its interface
 * appears, reload after a UCI edit, a ubusd restart with traffic during the
 * outage) and single-interface mode (started before ubusd exists).
 *
 * Run as root: ./build.sh && node --test --test-concurrency=1 build/test/ubus-live
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BlobmsgField, type BlobmsgValue, BlobmsgType, tableToJs, type JsonLike } from '../../src/ubus/blobmsg';
import { MsgType, Status } from '../../src/ubus/message';
import { sleep, type Daemon } from '../support/daemon';
import { ALL_ID, formatLines, PROBE_ID, ruleFileText, type RuleDef } from '../support/live-count';
import type { VethLink } from '../support/netns';
import { ensureOracle, expandRuleSet } from '../support/oracle';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, FEED_PPS, interfaceMac, isSocket, replayFeeds, SectionExpectation,
  settleSection, startServiceDaemon, uciText, waitForSockets, waitForLog, writeAtomically, type ServiceNet, type UciSectionDef,
} from '../support/service';
import { readCounts, type CountLine } from '../support/socket-client';
import { EmulatedUbusd, type CallResult, type ServedObject } from './ubusd-emulator';

const EAPON = join(TEST_PCAPS, 'eapon1.pcap');
const DCB = join(TEST_PCAPS, 'dcb_ets.pcap');

const HARNESS: readonly RuleDef[] = [
  { id: PROBE_ID, expr: 'ether proto 0x88b5' },
  { id: ALL_ID, expr: 'greater 0' },
];
/**
 * A rule the daemon leaves to libpcap on a handle of its own: `inbound` needs
 * kernel metadata. Every replayed frame is inbound at the daemon's veth, so
 * libpcap counts it offline as LIBPCAP_OFFLINE. Like every capture it counts
 * from the first frame after the socket appears (or the reload).
 */
const LIBPCAP_RULE: RuleDef = { id: 'in-udp', expr: 'inbound and (udp or ether proto 0x88b5)' };
const LIBPCAP_OFFLINE = 'udp or ether proto 0x88b5';
const LAN_RULES: readonly RuleDef[] = [
  { id: 'bc', expr: 'ether broadcast' },
  { id: 'mc', expr: 'ether multicast' },
  { id: 'arp', expr: 'arp' },
  { id: 'dhcp', expr: 'udp port 67 or udp port 68' },
  { id: 'mine', expr: 'ether host $MAC' },
  { id: 'not-mine', expr: 'not ${mine}' },
  { id: 'eapol-arp', expr: 'ether proto 0x888e or arp' },
  LIBPCAP_RULE,
  ...HARNESS,
];
/** After the reload: one rule more, in the middle. */
const LAN_RULES_V2: readonly RuleDef[] = [...LAN_RULES.slice(0, 4), { id: 'ip4', expr: 'ip' }, ...LAN_RULES.slice(4)];
/** EAPOL frames (41 in eapon1.pcap) never reach the rules: eapol-arp counts only ARP. */
const LAN_PREFILTER = 'not ether proto 0x888e';
const WAN_RULES: readonly RuleDef[] = [{ id: 'arp', expr: 'arp' }, ...HARNESS];
const SINGLE_RULES: readonly RuleDef[] = [
  { id: 'icmp6', expr: 'icmp6' },
  { id: 'lldp', expr: 'ether proto 0x88cc' },
  { id: 'mc', expr: 'ether multicast' },
  { id: 'ip4', expr: 'ip' },
  { id: 'mine', expr: 'ether src $MAC or ether dst $MAC' },
  LIBPCAP_RULE,
  ...HARNESS,
];

/** The rules libpcap must count for a section: expanded, then ANDed with the prefilter as the daemon does. */
function oracleRules(rules: readonly RuleDef[], mac: string, prefilter?: string): RuleDef[] {
  const offline = rules.map((r) => (r.id === LIBPCAP_RULE.id ? { id: r.id, expr: LIBPCAP_OFFLINE } : r));
  return expandRuleSet(offline, mac).map((expr, i) => ({ id: rules[i].id, expr: prefilter ? `(${prefilter}) and (${expr})` : expr }));
}


// ---- reading replies -------------------------------------------------------

type Json = { [key: string]: JsonLike };

function obj(v: JsonLike | undefined, what: string): Json {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what} is not an object: ${String(v)}`);
  return v as Json;
}

function arr(v: JsonLike | undefined, what: string): JsonLike[] {
  assert.ok(Array.isArray(v), `${what} is not an array`);
  return v;
}

function num(v: JsonLike | undefined, what: string): number {
  assert.equal(typeof v, 'number', `${what} is not a number: ${String(v)}`);
  assert.ok(Number.isFinite(v), `${what} is not finite`);
  return v as number;
}

/** The single DATA table of an OK answer, as JSON. */
function okData(r: CallResult, what: string): Json {
  assert.equal(r.status, Status.OK, `${what}: status ${r.status}`);
  assert.equal(r.data.length, 1, `${what}: ${r.data.length} DATA messages`);
  return tableToJs(r.data[0]);
}

function field(fields: readonly BlobmsgField[], name: string): BlobmsgValue {
  const f = fields.find((x) => x.name === name);
  assert.ok(f, `field '${name}' missing (have ${fields.map((x) => x.name).join(', ')})`);
  return f.value;
}

function fieldsOf(v: BlobmsgValue, what: string): BlobmsgField[] {
  assert.equal(v.type, 'table', `${what} is a ${v.type}, not a table`);
  return v.type === 'table' ? v.fields : [];
}

/** The wire types the README promises: counters INT64, rates DOUBLE, names strings. */
function checkStatsWireTypes(data: readonly BlobmsgField[]): void {
  for (const inst of data) {
    const f = fieldsOf(inst.value, inst.name);
    for (const s of ['interface', 'prefilter', 'state', 'socket']) assert.equal(field(f, s).type, 'string', `${inst.name}.${s}`);
    for (const d of fieldsOf(field(f, 'drops'), `${inst.name}.drops`)) assert.equal(d.value.type, 'int64', `${inst.name}.drops.${d.name}`);
    const rules = field(f, 'rules');
    assert.equal(rules.type, 'array', `${inst.name}.rules`);
    for (const r of rules.type === 'array' ? rules.items : []) {
      const rf = fieldsOf(r, `${inst.name} rule`);
      assert.equal(field(rf, 'id').type, 'string');
      assert.equal(field(rf, 'bytes').type, 'int64');
      assert.equal(field(rf, 'packets').type, 'int64');
      assert.equal(field(rf, 'bytes_per_second').type, 'double');
      assert.equal(field(rf, 'packets_per_second').type, 'double');
    }
  }
}

interface RuleStat {
  id: string;
  bytes: number;
  packets: number;
  bps: number;
  pps: number;
}

interface InstanceView {
  interface: string;
  prefilter: string;
  state: string;
  socket: string;
  drops: { received: number; dropped: number; ifdropped: number };
  rules: RuleStat[];
}

function instanceView(v: JsonLike | undefined, name: string): InstanceView {
  const o = obj(v, name);
  assert.deepEqual(Object.keys(o).sort(), ['drops', 'interface', 'prefilter', 'rules', 'socket', 'state'], `${name}: keys`);
  const d = obj(o.drops, `${name}.drops`);
  assert.deepEqual(Object.keys(d).sort(), ['dropped', 'ifdropped', 'received'], `${name}.drops: keys`);
  const drops = { received: num(d.received, 'received'), dropped: num(d.dropped, 'dropped'), ifdropped: num(d.ifdropped, 'ifdropped') };
  for (const [k, n] of Object.entries(drops)) assert.ok(Number.isInteger(n) && n >= 0, `${name}.drops.${k} = ${n}`);
  const rules = arr(o.rules, `${name}.rules`).map((r, i): RuleStat => {
    const ro = obj(r, `${name}.rules[${i}]`);
    const rs = {
      id: String(ro.id), bytes: num(ro.bytes, 'bytes'), packets: num(ro.packets, 'packets'),
      bps: num(ro.bytes_per_second, 'bytes_per_second'), pps: num(ro.packets_per_second, 'packets_per_second'),
    };
    assert.ok(rs.bps >= 0 && rs.pps >= 0, `${name} ${rs.id}: negative rate ${rs.bps} B/s ${rs.pps} p/s`);
    return rs;
  });
  return {
    interface: String(o.interface), prefilter: String(o.prefilter), state: String(o.state), socket: String(o.socket), drops, rules,
  };
}

/** `<id>:<bytes>:<packets>` lines of a stats answer, for comparing with the socket. */
const statLines = (v: InstanceView): string[] => formatLines(v.rules);

async function stats(o: ServedObject, instance?: string): Promise<{ json: Json; raw: BlobmsgField[] }> {
  const r = await o.call({ method: 'stats', data: instance === undefined ? [] : [{ name: 'instance', value: { type: 'string', value: instance } }] });
  const json = okData(r, `stats ${instance ?? '(all)'}`);
  checkStatsWireTypes(r.data[0]);
  return { json, raw: r.data[0] };
}

async function rulesOf(o: ServedObject, instance?: string): Promise<Json> {
  const r = await o.call({ method: 'rules', data: instance === undefined ? [] : [{ name: 'instance', value: { type: 'string', value: instance } }] });
  return okData(r, `rules ${instance ?? '(all)'}`);
}

/** `rules` of one running instance: every rule, its expansion, its engine (+ reason for libpcap). */
function checkRules(
  v: JsonLike | undefined, name: string, ifname: string, prefilter: string, rules: readonly RuleDef[], mac: string, hasLibpcapRule = true,
): void {
  const o = obj(v, name);
  assert.equal(o.interface, ifname);
  assert.equal(o.prefilter, prefilter);
  assert.equal(typeof o.kernel_filter, 'string');
  assert.ok(Number.isInteger(o.snaplen) && (o.snaplen as number) > 0, `${name}.snaplen = ${String(o.snaplen)}`);
  const list = arr(o.rules, `${name}.rules`).map((r, i) => obj(r, `${name}.rules[${i}]`));
  const expanded = expandRuleSet(rules, mac);
  assert.deepEqual(list.map((r) => r.id), rules.map((r) => r.id), `${name}: every rule, in order`);
  list.forEach((r, i) => {
    assert.equal(r.expression, expanded[i], `${name} ${rules[i].id}: expanded expression`);
    if (r.engine === 'javascript') {
      assert.deepEqual(Object.keys(r).sort(), ['engine', 'expression', 'id'], `${name} ${rules[i].id}: no reason for javascript`);
    } else {
      assert.equal(r.engine, 'libpcap', `${name} ${rules[i].id}: engine`);
      assert.ok(typeof r.reason === 'string' && r.reason.length > 0, `${name} ${rules[i].id}: a libpcap rule says why`);
    }
  });
  const byId = new Map(list.map((r) => [r.id, r]));
  if (hasLibpcapRule) assert.equal(byId.get(LIBPCAP_RULE.id)?.engine, 'libpcap', `${name}: '${LIBPCAP_RULE.expr}' runs on libpcap`);
  assert.equal(byId.get(ALL_ID)?.engine, 'javascript', `${name}: 'greater 0' runs in JavaScript`);
}

/** Signature of the bpfcountd object as ubus -v list shows it. */
function signatureJs(sig: readonly BlobmsgField[] | undefined): JsonLike {
  assert.ok(sig, 'ADD_OBJECT without SIGNATURE');
  return tableToJs(sig);
}
const SIGNATURE = {
  stats: { instance: BlobmsgType.STRING }, rules: { instance: BlobmsgType.STRING }, reload: {},
  check: { rules: BlobmsgType.ARRAY, ifname: BlobmsgType.STRING, prefilter: BlobmsgType.STRING },
};

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Per rule, how much its counters grew between two reads of the socket. */
function grown(before: readonly CountLine[], now: readonly CountLine[]): Set<string> {
  const old = new Map(before.map((l) => [l.id, l.packets]));
  return new Set(now.filter((l) => l.packets > (old.get(l.id) ?? 0)).map((l) => l.id));
}

/**
 * Rates after traffic: a rule that counted within the last seconds has a
 * rate > 0 (the window is 5 s; a sample is taken every second), and no rate
 * can exceed the rule's whole count per second of the shortest window.
 */
function checkRates(v: InstanceView, counted: Set<string>, what: string): void {
  assert.ok(counted.size > 0, `${what}: no rule counted anything`);
  for (const r of v.rules) {
    if (counted.has(r.id)) assert.ok(r.bps > 0 && r.pps > 0, `${what} ${r.id}: rate ${r.bps} B/s ${r.pps} p/s right after traffic`);
    assert.ok(r.bps <= r.bytes / 0.5 && r.pps <= r.packets / 0.5, `${what} ${r.id}: rate ${r.bps} B/s ${r.pps} p/s above its counts`);
  }
}

async function expectStatus(o: ServedObject, method: string, data: BlobmsgField[], status: number, what: string): Promise<void> {
  const r = await o.call({ method, data });
  assert.equal(r.status, status, `${what}: status`);
  assert.equal(r.data.length, 0, `${what}: no DATA with an error`);
}

const instanceArg = (value: BlobmsgValue): BlobmsgField[] => [{ name: 'instance', value }];

// ---- the tests ---------------------------------------------------------------

describe('ubus: the real daemon behind an emulated ubusd', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  /** Every daemon started, so that a failed test leaves none running. */
  const daemons: Daemon[] = [];
  const ubusds: EmulatedUbusd[] = [];

  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-ubus-live-'));
    net = createServiceNet();
  });
  after(async () => {
    for (const d of daemons) await d.kill();
    for (const u of ubusds) await u.close().catch(() => undefined);
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('service mode: stats/rules equal the sockets and libpcap; errors; reload; ubusd restart', async () => {
    assert.ok(net);
    const mac = busiestUnicastMac(readClassicPcap(EAPON));
    assert.ok(mac, 'eapon1.pcap has a unicast MAC');
    const lan = addVeth(net, 'eth0', 'peer0', mac);
    const sock = (name: string): string => join(dir, `${name}.sock`);
    const ubusSock = join(dir, 'ubus.sock');
    const wanFile = join(dir, 'wan.filters');
    writeFileSync(wanFile, ruleFileText(WAN_RULES));
    const uci = (lanRules: readonly RuleDef[]): UciSectionDef[] => [
      { name: 'lan', options: { ifname: 'eth0', prefilter: LAN_PREFILTER, socket: sock('lan') }, rules: lanRules },
      { name: 'wan', options: { ifname: 'wan9', filterfile: wanFile, socket: sock('wan') } },
    ];
    writeFileSync(join(dir, 'bpfcountd'), uciText(uci(LAN_RULES)));

    let ubusd = await EmulatedUbusd.listen(ubusSock);
    ubusds.push(ubusd);
    const d = startServiceDaemon(net, ['-c', dir, '--runtime-dir', join(dir, 'runtime'), `--ubus=${ubusSock}`], sock('lan'));
    daemons.push(d);
    let o = await ubusd.acceptObject(10_000);
    const first = o.reg;
    assert.equal(first.path, 'bpfcountd');
    assert.equal(first.add.seq, 1, 'first request of the connection');
    assert.equal(first.add.peer, 0);
    assert.deepEqual(signatureJs(first.signature), SIGNATURE);
    await waitForSockets(d, [sock('lan')]);
    await waitForLog(d, /registered object 'bpfcountd'/);
    assert.equal(isSocket(sock('wan')), false, 'a section waiting for its interface has no socket yet');

    // Before any traffic: both instances, all zero, states right.
    const idle = await stats(o);
    assert.deepEqual(Object.keys(idle.json), ['lan', 'wan']);
    const wan0 = instanceView(idle.json.wan, 'wan');
    assert.equal(wan0.state, 'waiting');
    assert.equal(wan0.interface, 'wan9');
    assert.equal(wan0.prefilter, '');
    assert.equal(wan0.socket, sock('wan'));
    assert.deepEqual(wan0.drops, { received: 0, dropped: 0, ifdropped: 0 }, 'no capture, no drops');
    assert.deepEqual(statLines(wan0), formatLines(WAN_RULES.map((r) => ({ id: r.id, bytes: 0, packets: 0 }))));
    assert.equal(instanceView(idle.json.lan, 'lan').state, 'running');

    // Traffic: the socket exists, so the capture counts from the first frame.
    const beforeReplay = await readCounts(sock('lan'));
    const expect = new SectionExpectation(oracleRules(LAN_RULES, mac, LAN_PREFILTER), mac);
    expect.add(EAPON);
    replayFeeds([{ link: lan, captures: [EAPON] }]);
    let settled = await settleSection(d, sock('lan'), expect);
    assert.deepEqual(settled.actual, settled.expected, `lan socket vs libpcap. ${d.describe()}`);
    const counted = grown(beforeReplay, settled.lines);
    // Let the once-a-second rate sampler see the traffic.
    await sleep(1500);

    const all = await stats(o);
    assert.deepEqual(Object.keys(all.json), ['lan', 'wan']);
    const lanView = instanceView(all.json.lan, 'lan');
    assert.deepEqual(statLines(lanView), formatLines(await readCounts(sock('lan'))), 'ubus stats = socket');
    assert.deepEqual(statLines(lanView), settled.expected, 'ubus stats = libpcap');
    assert.equal(lanView.state, 'running');
    assert.equal(lanView.interface, 'eth0');
    assert.equal(lanView.prefilter, LAN_PREFILTER);
    assert.equal(lanView.socket, sock('lan'));
    const allPackets = lanView.rules.find((r) => r.id === ALL_ID)?.packets ?? 0;
    assert.ok(lanView.drops.received >= allPackets, `drops.received ${lanView.drops.received} < ${allPackets} packets counted`);
    checkRates(lanView, counted, 'lan');
    assert.ok(settled.lines.filter((l) => l.packets > 0).length >= 6, 'several rules counted something');
    assert.equal(settled.lines.find((l) => l.id === 'eapol-arp')?.packets, settled.lines.find((l) => l.id === 'arp')?.packets,
      'the prefilter takes EAPOL away');
    const wanView = instanceView(all.json.wan, 'wan');
    assert.equal(wanView.state, 'waiting');
    assert.deepEqual(statLines(wanView), formatLines(WAN_RULES.map((r) => ({ id: r.id, bytes: 0, packets: 0 }))), 'waiting instance: zeros');
    assert.equal(isSocket(sock('wan')), false, 'still no socket while waiting');

    const one = await stats(o, 'lan');
    assert.deepEqual(Object.keys(one.json), ['lan']);
    assert.deepEqual(statLines(instanceView(one.json.lan, 'lan')), settled.expected);
    const oneWan = await stats(o, 'wan');
    assert.deepEqual(Object.keys(oneWan.json), ['wan']);
    assert.equal(instanceView(oneWan.json.wan, 'wan').state, 'waiting');

    // rules
    const rules = await rulesOf(o);
    assert.deepEqual(Object.keys(rules), ['lan', 'wan']);
    checkRules(rules.lan, 'lan', 'eth0', LAN_PREFILTER, LAN_RULES, mac);
    checkRules((await rulesOf(o, 'lan')).lan, 'lan', 'eth0', LAN_PREFILTER, LAN_RULES, mac);
    const wanRules = obj(rules.wan, 'rules.wan');
    assert.equal(wanRules.interface, 'wan9');
    assert.ok(Array.isArray(wanRules.rules), 'rules.wan.rules is a list');

    // Errors, as the CLI would send them (a number is INT32 there).
    await expectStatus(o, 'stats', instanceArg({ type: 'string', value: 'nope' }), Status.NOT_FOUND, 'stats nope');
    await expectStatus(o, 'rules', instanceArg({ type: 'string', value: 'nope' }), Status.NOT_FOUND, 'rules nope');
    await expectStatus(o, 'stats', instanceArg({ type: 'int32', value: 5 }), Status.INVALID_ARGUMENT, 'stats {"instance":5}');
    await expectStatus(o, 'rules', instanceArg({ type: 'int32', value: 5 }), Status.INVALID_ARGUMENT, 'rules {"instance":5}');
    await expectStatus(o, 'statz', [], Status.METHOD_NOT_FOUND, 'unknown method');

    // Two callers with the same seq (every CLI call is seq 2): each gets its own answer.
    const [a, b] = await o.callMany([
      { method: 'stats', data: instanceArg({ type: 'string', value: 'wan' }) },
      { method: 'stats', data: instanceArg({ type: 'string', value: 'nope' }) },
    ]);
    assert.deepEqual(Object.keys(okData(a, 'concurrent stats wan')), ['wan']);
    assert.equal(b.status, Status.NOT_FOUND);

    // check: the running daemon judges rule lines with libpcap for eth0 (its link type, its MAC), changing nothing.
    const text = (value: string): BlobmsgValue => ({ type: 'string', value });
    const checked = okData(await o.call({ method: 'check', data: [
      { name: 'ifname', value: text('eth0') },
      { name: 'rules', value: { type: 'array', items: [text('arp;arp'), text('bad;ip and and tcp'), text('me;ether dst $MAC')] } },
    ] }), 'check rules');
    assert.deepEqual(checked, { rules: [
      { id: 'arp', ok: true, engine: 'javascript' },
      { id: 'bad', ok: false, error: 'can\'t parse filter expression: syntax error', detail: 'syntax error at character 8: and tcp' },
      { id: 'me', ok: true, engine: 'javascript' },
    ] });
    assert.deepEqual(okData(await o.call({ method: 'check', data: [] }), 'check config'), { config: { ok: true } });
    // A broken rule saved but not reloaded: `check {}` names it; the running rules stay.
    writeAtomically(join(dir, 'bpfcountd'), uciText(uci([...LAN_RULES, { id: 'bad', expr: 'ip and and tcp' }])));
    const refused = obj(okData(await o.call({ method: 'check', data: [] }), 'check broken config').config, 'config');
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /:\d+: rule 'bad': can't parse filter expression: syntax error$/);
    assert.deepEqual(statLines(instanceView((await stats(o, 'lan')).json.lan, 'lan')), formatLines(await readCounts(sock('lan'))),
      'check changed nothing');

    // reload after a UCI edit: the new rule starts at 0, the others keep their counts.
    const beforeReload = await readCounts(sock('lan'));
    writeAtomically(join(dir, 'bpfcountd'), uciText(uci(LAN_RULES_V2)));
    const rl = await o.call({ method: 'reload', data: [] });
    assert.equal(rl.status, Status.OK, 'reload status');
    assert.equal(rl.data.length, 0, 'reload answers with status only');
    assert.deepEqual(rl.replies.map((m) => m.type), [MsgType.STATUS]);
    const reloaded = await waitFor('the new rule in stats', 5000, async () => {
      const lanNow = instanceView((await stats(o, 'lan')).json.lan, 'lan');
      return lanNow.rules.some((r) => r.id === 'ip4') ? lanNow : undefined;
    });
    // What libpcap counted so far for the old rules; 0 for the new one.
    const expect2 = expect.reloaded(oracleRules(LAN_RULES_V2, mac, LAN_PREFILTER));
    assert.deepEqual(statLines(reloaded), expect2.expected(), 'old rules keep their counts, the new one is 0');
    assert.deepEqual(beforeReload.map((l) => l.id), LAN_RULES.map((r) => r.id));
    assert.deepEqual(statLines(reloaded), formatLines(await readCounts(sock('lan'))), 'after reload: ubus stats = socket');
    assert.equal(reloaded.state, 'running');
    checkRules((await rulesOf(o, 'lan')).lan, 'lan', 'eth0', LAN_PREFILTER, LAN_RULES_V2, mac);
    await waitForLog(d, /lan: reloaded/);

    // The reopened capture counts exactly again from its first frame, the new rule included.
    expect2.add(EAPON);
    replayFeeds([{ link: lan, captures: [EAPON] }]);
    settled = await settleSection(d, sock('lan'), expect2);
    assert.deepEqual(settled.actual, settled.expected, `lan after reload vs libpcap. ${d.describe()}`);
    assert.ok((settled.lines.find((l) => l.id === 'ip4')?.packets ?? 0) > 0, 'the new rule counts');
    assert.deepEqual(statLines(instanceView((await stats(o, 'lan')).json.lan, 'lan')), settled.expected, 'after reload: ubus = libpcap');

    // ubusd restarts; traffic during the outage is counted; the object comes back.
    const errBefore = d.log.length;
    await ubusd.close();
    const closedAt = Date.now();
    expect2.add(EAPON);
    replayFeeds([{ link: lan, captures: [EAPON] }]);
    settled = await settleSection(d, sock('lan'), expect2);
    assert.deepEqual(settled.actual, settled.expected, `lan during the ubusd outage vs libpcap. ${d.describe()}`);
    await waitForLog(d, /ubus: lost the connection to ubusd/, errBefore);
    ubusd = await EmulatedUbusd.listen(ubusSock);
    ubusds.push(ubusd);
    const restartedAt = Date.now();
    o = await ubusd.acceptObject(5000);
    const regMs = Date.now() - restartedAt;
    // Back-off 1 s, then 2 s: at most ~3 s after ubusd went away, plus slack for a loaded machine.
    assert.ok(Date.now() - closedAt < 4500, `registered again ${Date.now() - closedAt} ms after ubusd went away`);
    assert.equal(o.reg.path, 'bpfcountd');
    assert.deepEqual(signatureJs(o.reg.signature), SIGNATURE, 'the full signature again (the new ubusd knows no type)');
    assert.ok(o.reg.add.seq > first.add.seq, `request counter continues (seq ${o.reg.add.seq})`);
    assert.notEqual(o.reg.objectId, first.objectId);
    const back = await stats(o);
    assert.deepEqual(Object.keys(back.json), ['lan', 'wan']);
    assert.deepEqual(statLines(instanceView(back.json.lan, 'lan')), formatLines(await readCounts(sock('lan'))), 'after restart: ubus = socket');
    assert.deepEqual(statLines(instanceView(back.json.lan, 'lan')), settled.expected, 'after restart: ubus = libpcap');
    // A stale object id (the one before the restart) is not ours any more.
    const stale = await o.call({ method: 'stats', data: [], objectId: first.objectId });
    assert.equal(stale.status, Status.NOT_FOUND, 'INVOKE for the old object id');
    const log = d.log.slice(errBefore);
    assert.equal((log.match(/lost the connection/g) ?? []).length, 1, log);
    assert.equal((log.match(/registered object 'bpfcountd'/g) ?? []).length, 1, log);

    // The missing interface appears: the waiting instance starts running (hot-plug poll, 1 s).
    addVeth(net, 'wan9', 'peerw');
    const wanUp = await waitFor('wan to run', 5000, async () => {
      const w = instanceView((await stats(o, 'wan')).json.wan, 'wan');
      return w.state === 'running' ? w : undefined;
    });
    // Its socket appears with its capture.
    assert.deepEqual(statLines(wanUp), formatLines((await waitForSockets(d, [sock('wan')])).get(sock('wan')) ?? []));
    checkRules((await rulesOf(o, 'wan')).wan, 'wan', 'wan9', '', WAN_RULES, interfaceMac(net.links[net.links.length - 1]), false);

    const exit = await d.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, d.describe());
    assert.equal(await waitFor('the daemon to hang up on ubusd', 2000, async () => (o.hungUp ? true : undefined)), true);
    process.stderr.write(`# ubus-live: re-registered ${regMs} ms after ubusd came back (${Date.now() - closedAt} ms outage incl. replay)\n`);
  });

  test('single-interface mode (-i ... --ubus=<socket>): stats/rules equal the socket and libpcap', async () => {
    assert.ok(net);
    const mac = busiestUnicastMac(readClassicPcap(DCB));
    assert.ok(mac, 'dcb_ets.pcap has a unicast MAC');
    const link: VethLink = addVeth(net, 'eth1', 'peer1', mac);
    assert.equal(interfaceMac(link), mac);
    const rulesFile = join(dir, 'single.filters');
    writeFileSync(rulesFile, ruleFileText(SINGLE_RULES));
    const sock = join(dir, 'single.sock');
    const ubusSock = join(dir, 'ubus-single.sock');
    // No ubusd yet: the daemon counts anyway, says so once, and registers when ubusd appears.
    const d = startServiceDaemon(net, ['-i', 'eth1', '-f', rulesFile, '-u', sock, `--ubus=${ubusSock}`], sock);
    daemons.push(d);
    await waitForSockets(d, [sock]);
    await waitForLog(d, /ubus: cannot connect to .*ubus-single\.sock/);
    const ubusd = await EmulatedUbusd.listen(ubusSock);
    ubusds.push(ubusd);
    const listenedAt = Date.now();
    const o = await ubusd.acceptObject(5000);
    // Back-off 1 s, 2 s, 4 s ...: the attempt after ubusd appeared comes within the current step.
    assert.ok(Date.now() - listenedAt < 4500, `registered ${Date.now() - listenedAt} ms after ubusd appeared`);
    assert.deepEqual(signatureJs(o.reg.signature), SIGNATURE);
    assert.equal((d.log.match(/cannot connect/g) ?? []).length, 1, `logged once: ${d.log}`);

    const beforeReplay = await readCounts(sock);
    const expect = new SectionExpectation(oracleRules(SINGLE_RULES, mac), mac);
    expect.add(DCB);
    replayFeeds([{ link, captures: [DCB] }], FEED_PPS);
    const settled = await settleSection(d, sock, expect);
    assert.deepEqual(settled.actual, settled.expected, `socket vs libpcap. ${d.describe()}`);
    assert.ok(settled.lines.filter((l) => l.packets > 0).length >= 5, 'several rules counted something');
    await sleep(1500);

    const all = await stats(o);
    assert.deepEqual(Object.keys(all.json), ['eth1'], 'single-interface mode: the instance is named after the interface');
    const v = instanceView(all.json.eth1, 'eth1');
    assert.deepEqual(statLines(v), formatLines(await readCounts(sock)), 'ubus stats = socket');
    assert.deepEqual(statLines(v), settled.expected, 'ubus stats = libpcap');
    assert.equal(v.state, 'running');
    assert.equal(v.interface, 'eth1');
    assert.equal(v.prefilter, '');
    assert.equal(v.socket, sock);
    checkRates(v, grown(beforeReplay, settled.lines), 'eth1');
    assert.deepEqual(statLines(instanceView((await stats(o, 'eth1')).json.eth1, 'eth1')), settled.expected);
    checkRules((await rulesOf(o)).eth1, 'eth1', 'eth1', '', SINGLE_RULES, mac);
    await expectStatus(o, 'stats', instanceArg({ type: 'string', value: 'nope' }), Status.NOT_FOUND, 'stats nope');
    await expectStatus(o, 'stats', instanceArg({ type: 'int32', value: 5 }), Status.INVALID_ARGUMENT, 'stats {"instance":5}');

    const exit = await d.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, d.describe());
  });
});
