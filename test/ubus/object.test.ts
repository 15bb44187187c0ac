/**
 * The real `bpfcountd` object (src/outputs/ubus-object.ts over a DaemonControl) answering the
 * captured INVOKEs through the fake ubusd: registration and every status are
 * compared with the captured libubus bytes, the DATA with the JSON shape of
 * src/service/model.ts and the blobmsg types promised in docs/ubus.md.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlobmsgField, BlobmsgValue, toJs, tableToJs } from '../../src/ubus/blobmsg';
import {
  AttrId, blobmsgAttr, decodeMessage, encodeMessage, getAttr, getU32, MsgType, Status, stringAttr, u32Attr, UbusMessage,
} from '../../src/ubus/message';
import { startUbusObject, statsToBlobmsg } from '../../src/outputs/ubus-object';
import { CheckReply, CheckRequest, DaemonControl, RulesReply, StatsReply, UnknownInstanceError } from '../../src/service/model';
import { FakeConnection, FakeUbusd, tempSocketPath } from './fake-ubusd';
import { bytesOf, FixtureMessage, loadFixture } from './fixtures';

const STATS: StatsReply = {
  eth0_in: {
    interface: 'eth0', prefilter: 'inbound', state: 'running', socket: '/var/run/bpfcountd/eth0_in.sock',
    drops: { received: 5000000000, dropped: 3, ifdropped: 0 },
    rules: [
      { id: 'arp', bytes: 450, packets: 10, bytes_per_second: 0, packets_per_second: 0.5 },
      { id: 'ipv6', bytes: 2 ** 53 - 1, packets: 4294967296, bytes_per_second: 1250000, packets_per_second: 1000 },
    ],
  },
  wan_out: {
    interface: 'wan', prefilter: 'outbound', state: 'waiting', socket: '/var/run/bpfcountd/wan_out.sock',
    drops: { received: 0, dropped: 0, ifdropped: 0 }, rules: [],
  },
};

const RULES: RulesReply = {
  eth0_in: {
    interface: 'eth0', prefilter: 'inbound', kernel_filter: 'inbound and (arp or ip6)', snaplen: 262144,
    rules: [
      { id: 'arp', expression: 'arp', engine: 'javascript' },
      { id: 'ipv6', expression: 'ip6 and ip6[40] == 135', engine: 'libpcap', reason: 'not compiled' },
    ],
  },
};

class FakeControl implements DaemonControl {
  reloads = 0;
  fail: Error | undefined;
  big = false;
  stats(instance?: string): StatsReply {
    if (this.fail) throw this.fail;
    if (this.big) {
      const rules = Array.from({ length: 12000 }, (_, i) => ({ ...STATS.eth0_in.rules[0], id: `rule-${i}` }));
      return { eth0_in: { ...STATS.eth0_in, rules } };
    }
    return pick(STATS, instance);
  }
  rules(instance?: string): RulesReply {
    return pick(RULES, instance);
  }
  reload(): void {
    this.reloads++;
  }
  checks: CheckRequest[] = [];
  check(request: CheckRequest): CheckReply {
    this.checks.push(request);
    if (request.rules === undefined) return { config: { ok: false, error: '/etc/config/bpfcountd:9: rule \'x\': syntax error' } };
    return {
      rules: request.rules.map((_line, i) => i === 0
        ? { id: 'arp', ok: true, engine: 'javascript' }
        : { id: 'bad', ok: false, error: 'syntax error in filter expression: syntax error', detail: 'unexpected end of expression at 4' }),
      prefilter: { ok: true },
    };
  }
}

function pick<T>(all: Record<string, T>, instance?: string): Record<string, T> {
  if (instance === undefined) return all;
  if (!(instance in all)) throw new UnknownInstanceError(instance);
  return { [instance]: all[instance] };
}

/** Types of every leaf, by path, e.g. 'eth0_in.rules.0.bytes' -> 'int64'. */
function leafTypes(v: BlobmsgValue, prefix: string, out: Map<string, string>): Map<string, string> {
  if (v.type === 'table') for (const f of v.fields) leafTypes(f.value, prefix ? `${prefix}.${f.name}` : f.name, out);
  else if (v.type === 'array') v.items.forEach((it, i) => leafTypes(it, `${prefix}.${i}`, out));
  else out.set(prefix, v.type);
  return out;
}

/**
 * The captured ADD_OBJECT with `check {rules: ARRAY, ifname: STRING, prefilter: STRING}` appended to its
 * signature, as libubus would announce it (one INT32 type number per argument).
 */
function registrationWithCheck(): Buffer {
  const captured = bytesOf(byN(2));
  const msg = decodeMessage(captured);
  assert.equal(encodeMessage(msg).toString('hex'), captured.toString('hex'), 'the capture re-encodes to itself');
  const sig = msg.attrs.find((a) => a.id === AttrId.SIGNATURE);
  assert.ok(sig && sig.kind === 'blobmsg');
  assert.deepEqual(sig.value.map((f) => f.name), ['stats', 'rules', 'reload']);
  const int32 = (value: number): BlobmsgValue => ({ type: 'int32', value });
  sig.value.push({
    name: 'check',
    value: { type: 'table', fields: [{ name: 'rules', value: int32(1) }, { name: 'ifname', value: int32(3) }, { name: 'prefilter', value: int32(3) }] },
  });
  return encodeMessage(msg);
}

interface Rig {
  ubusd: FakeUbusd;
  c: FakeConnection;
  control: FakeControl;
  logs: string[];
  close(): Promise<void>;
}

const fx = loadFixture('scenario-a-object-server.json');
const byN = (n: number): FixtureMessage => {
  const m = fx.messages.find((x) => x.n === n);
  assert.ok(m);
  return m;
};

/** Starts the object against a fake ubusd and registers it the way the capture did. */
async function rig(): Promise<Rig> {
  const { dir, socket } = tempSocketPath();
  const ubusd = await FakeUbusd.listen(socket);
  const control = new FakeControl();
  const logs: string[] = [];
  const obj = startUbusObject({ socketPath: socket, control, log: (m) => logs.push(m), retryInitialMs: 10, retryMaxMs: 50 });
  const c = await ubusd.accept();
  await c.send(bytesOf(byN(1)));
  // Our registration is byte-identical to the captured libubus one (same name, methods and argument types),
  // plus the `check` method added after the capture.
  assert.equal((await c.next())?.toString('hex'), registrationWithCheck().toString('hex'));
  await c.send(Buffer.concat([bytesOf(byN(3)), bytesOf(byN(4))]));
  return {
    ubusd, c, control, logs,
    close: async () => {
      obj.close();
      await ubusd.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends a call and collects the replies up to its STATUS. */
async function call(c: FakeConnection, invoke: Buffer): Promise<{ data?: UbusMessage; status: Buffer }> {
  await c.send(invoke);
  let data: UbusMessage | undefined;
  for (;;) {
    const m = await c.next();
    assert.ok(m, 'connection closed');
    assert.equal(m.readUInt16BE(2), invoke.readUInt16BE(2), 'seq of the reply');
    assert.equal(m.readUInt32BE(4), invoke.readUInt32BE(4), 'peer of the reply');
    if (m[1] === MsgType.STATUS) return { data, status: m };
    assert.equal(m[1], MsgType.DATA);
    assert.equal(data, undefined, 'at most one DATA');
    data = decodeMessage(m);
  }
}

function dataJs(m: UbusMessage | undefined): unknown {
  const d = m && getAttr(m, AttrId.DATA);
  assert.ok(d && d.kind === 'blobmsg');
  assert.equal(getU32(m, AttrId.OBJID), 0x399708a8);
  return tableToJs(d.value);
}

test('bpfcountd object answers the captured calls: stats, rules, reload, bad argument, unknown instance, unknown method', async () => {
  const r = await rig();
  try {
    // stats {"instance":"eth0_in"}
    let res = await call(r.c, bytesOf(byN(14)));
    assert.equal(res.status.toString('hex'), byN(17).hex);
    assert.deepEqual(dataJs(res.data), { eth0_in: JSON.parse(JSON.stringify(STATS.eth0_in)) });
    const d = getAttr(res.data as UbusMessage, AttrId.DATA);
    assert.ok(d && d.kind === 'blobmsg');
    const types = leafTypes({ type: 'table', fields: d.value }, '', new Map());
    assert.equal(types.get('eth0_in.rules.1.bytes'), 'int64');
    assert.equal(types.get('eth0_in.rules.1.packets'), 'int64');
    assert.equal(types.get('eth0_in.drops.received'), 'int64');
    assert.equal(types.get('eth0_in.rules.0.bytes_per_second'), 'double', 'a rate of 0 is still a double');
    assert.equal(types.get('eth0_in.interface'), 'string');
    assert.equal(toJs({ type: 'table', fields: d.value }) !== null, true);
    // stats {} -> every instance, in the daemon's order
    res = await call(r.c, bytesOf(byN(24)));
    assert.equal(res.status.toString('hex'), byN(26).hex);
    assert.deepEqual(Object.keys(dataJs(res.data) as object), ['eth0_in', 'wan_out']);
    // rules {}
    res = await call(r.c, bytesOf(byN(34)));
    assert.equal(res.status.toString('hex'), byN(37).hex);
    assert.deepEqual(dataJs(res.data), JSON.parse(JSON.stringify(RULES)));
    // reload: STATUS only, exactly as captured
    res = await call(r.c, bytesOf(byN(44)));
    assert.equal(res.data, undefined);
    assert.equal(res.status.toString('hex'), byN(45).hex);
    assert.equal(r.control.reloads, 1);
    // {"instance":5} -> INVALID_ARGUMENT; "wlan0" -> NOT_FOUND; nosuchmethod -> METHOD_NOT_FOUND
    for (const [invoke, reply] of [[52, 53], [60, 61], [68, 69]]) {
      res = await call(r.c, bytesOf(byN(invoke)));
      assert.equal(res.data, undefined);
      assert.equal(res.status.toString('hex'), byN(reply).hex, `reply to #${invoke}`);
    }
    assert.deepEqual(r.logs, ["ubus: registered object 'bpfcountd' (id 0x399708a8)"]);
  } finally {
    await r.close();
  }
});

/** An INVOKE built by hand, for cases the capture does not have. */
function invoke(seq: number, attrs: UbusMessage['attrs']): Buffer {
  return encodeMessage({ version: 0, type: MsgType.INVOKE, seq, peer: 0x01020304, attrs });
}
const statusOf = (b: Buffer) => getU32(decodeMessage(b), AttrId.STATUS);

test('failures inside the daemon, odd INVOKEs and oversized replies give a status, never a crash', async () => {
  const r = await rig();
  const obj = u32Attr(AttrId.OBJID, 0x399708a8);
  const stats = stringAttr(AttrId.METHOD, 'stats');
  try {
    r.control.fail = new Error('capture exploded');
    let res = await call(r.c, invoke(3, [obj, stats, blobmsgAttr(AttrId.DATA, [])]));
    assert.equal(statusOf(res.status), Status.UNKNOWN_ERROR);
    assert.match(r.logs.at(-1) ?? '', /method 'stats' failed: capture exploded/);
    r.control.fail = undefined;
    // No DATA attribute at all (libubus answers INVALID_ARGUMENT too).
    res = await call(r.c, invoke(4, [obj, stats]));
    assert.equal(statusOf(res.status), Status.INVALID_ARGUMENT);
    // An object id that is not ours.
    res = await call(r.c, invoke(5, [u32Attr(AttrId.OBJID, 7), stats, blobmsgAttr(AttrId.DATA, [])]));
    assert.equal(statusOf(res.status), Status.NOT_FOUND);
    // NO_REPLY: handled, not answered; the next call's answer comes first.
    await r.c.send(invoke(6, [obj, stringAttr(AttrId.METHOD, 'reload'), blobmsgAttr(AttrId.DATA, []), { id: AttrId.NO_REPLY, kind: 'u8', value: 1 }]));
    res = await call(r.c, invoke(7, [obj, stats, blobmsgAttr(AttrId.DATA, [{ name: 'instance', value: { type: 'string', value: 'wan_out' } }])]));
    assert.equal(statusOf(res.status), Status.OK);
    assert.equal(r.control.reloads, 1);
    // A reply beyond ubusd's 1 MiB limit would get us disconnected: refuse it instead.
    r.control.big = true;
    res = await call(r.c, invoke(8, [obj, stats, blobmsgAttr(AttrId.DATA, [])]));
    assert.equal(res.data, undefined);
    assert.equal(statusOf(res.status), Status.UNKNOWN_ERROR);
    assert.match(r.logs.at(-1) ?? '', /exceeds ubus's message limit/);
    r.control.big = false;
    // A malformed DATA container.
    const bad = invoke(9, [obj, stats, { id: AttrId.DATA, kind: 'raw', extended: false, value: Buffer.from('83000006', 'hex') }]);
    res = await call(r.c, bad);
    assert.equal(statusOf(res.status), Status.INVALID_ARGUMENT);
    // Still the same connection, still answering.
    res = await call(r.c, bytesOf(byN(14)));
    assert.equal(res.status.toString('hex'), byN(17).hex);
    assert.equal(r.ubusd.connections.length, 1);
  } finally {
    await r.close();
  }
});

test('garbage from ubusd drops the connection and the object comes back', async () => {
  const r = await rig();
  try {
    await r.c.send(Buffer.from('0002000100000000' + '00000002', 'hex')); // body shorter than a blob header
    assert.equal(await r.c.next(), null);
    const c2 = await r.ubusd.accept();
    await c2.send(bytesOf(byN(1)));
    const add = await c2.next();
    assert.ok(add);
    assert.equal(add.subarray(8).toString('hex'), registrationWithCheck().subarray(8).toString('hex'));
    assert.equal(add.readUInt16BE(2), 2);
    assert.match(r.logs.join('\n'), /bad data from ubusd/);
  } finally {
    await r.close();
  }
});

test('startUbusObject with no ubusd at all logs once and stays quiet', async () => {
  const logs: string[] = [];
  const { dir, socket } = tempSocketPath();
  const obj = startUbusObject({ socketPath: socket, control: new FakeControl(), log: (m) => logs.push(m), retryInitialMs: 5, retryMaxMs: 20 });
  await new Promise((r) => setTimeout(r, 150));
  obj.close();
  obj.close();
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(logs.length, 1);
  assert.match(logs[0], /cannot connect/);
});

test('values that would not print as JSON are replaced (libubox prints doubles with %lf: NaN -> nan)', () => {
  const weird: StatsReply = {
    x: {
      ...STATS.wan_out,
      drops: { received: Infinity, dropped: NaN, ifdropped: 2 ** 70 },
      rules: [{ id: 'r', bytes: 2 ** 53 + 2, packets: -1, bytes_per_second: NaN, packets_per_second: -Infinity }],
    },
  };
  const types = leafTypes({ type: 'table', fields: statsToBlobmsg(weird) }, '', new Map());
  const js = tableToJs(statsToBlobmsg(weird)) as { x: { drops: Record<string, unknown>; rules: Record<string, unknown>[] } };
  assert.deepEqual(js.x.drops, { received: 0, dropped: 0, ifdropped: 2n ** 63n - 1n });
  assert.deepEqual(js.x.rules[0], { id: 'r', bytes: 2n ** 53n + 2n, packets: -1, bytes_per_second: 0, packets_per_second: 0 });
  assert.equal(types.get('x.rules.0.bytes_per_second'), 'double');
  assert.equal(types.get('x.drops.received'), 'int64');
});

test('check: rule lines, or the saved configuration without them; arguments of the wrong type are refused', async () => {
  const r = await rig();
  const obj = u32Attr(AttrId.OBJID, 0x399708a8);
  const check = stringAttr(AttrId.METHOD, 'check');
  const s = (value: string): BlobmsgValue => ({ type: 'string', value });
  try {
    let res = await call(r.c, invoke(3, [obj, check, blobmsgAttr(AttrId.DATA, [
      { name: 'rules', value: { type: 'array', items: [s('arp;arp'), s('bad;ip[')] } },
      { name: 'ifname', value: s('eth0') }, { name: 'prefilter', value: s('inbound') },
    ])]));
    assert.equal(statusOf(res.status), Status.OK);
    assert.deepEqual(r.control.checks.at(-1), { rules: ['arp;arp', 'bad;ip['], ifname: 'eth0', prefilter: 'inbound' });
    assert.deepEqual(dataJs(res.data), {
      rules: [
        { id: 'arp', ok: true, engine: 'javascript' },
        { id: 'bad', ok: false, error: 'syntax error in filter expression: syntax error', detail: 'unexpected end of expression at 4' },
      ],
      prefilter: { ok: true },
    });
    // ok travels as INT8, which libubox prints as JSON true/false.
    const d = getAttr(res.data as UbusMessage, AttrId.DATA);
    assert.ok(d && d.kind === 'blobmsg');
    assert.equal(leafTypes({ type: 'table', fields: d.value }, '', new Map()).get('rules.1.ok'), 'int8');
    // Without rules: the saved configuration.
    res = await call(r.c, invoke(4, [obj, check, blobmsgAttr(AttrId.DATA, [])]));
    assert.equal(statusOf(res.status), Status.OK);
    assert.deepEqual(r.control.checks.at(-1), {});
    assert.deepEqual(dataJs(res.data), { config: { ok: false, error: "/etc/config/bpfcountd:9: rule 'x': syntax error" } });
    const bad: BlobmsgField[][] = [
      [{ name: 'rules', value: s('arp;arp') }],
      [{ name: 'rules', value: { type: 'array', items: [s('arp;arp'), { type: 'int32', value: 1 }] } }],
      [{ name: 'ifname', value: { type: 'int32', value: 1 } }],
      [{ name: 'prefilter', value: { type: 'table', fields: [] } }],
      // More than 256 rules in one call.
      [{ name: 'rules', value: { type: 'array', items: Array.from({ length: 257 }, (_v, i) => s(`r${i};arp`)) } }],
    ];
    for (const [i, data] of bad.entries()) {
      res = await call(r.c, invoke(10 + i, [obj, check, blobmsgAttr(AttrId.DATA, data)]));
      assert.equal(res.data, undefined);
      assert.equal(statusOf(res.status), Status.INVALID_ARGUMENT, `bad arguments #${i}`);
    }
    assert.equal(r.control.checks.length, 2, 'refused calls never reach the daemon');
    res = await call(r.c, invoke(20, [obj, check, blobmsgAttr(AttrId.DATA, [
      { name: 'rules', value: { type: 'array', items: Array.from({ length: 256 }, (_v, i) => s(`r${i};arp`)) } },
    ])]));
    assert.equal(statusOf(res.status), Status.OK, '256 rules are fine');
  } finally {
    await r.close();
  }
});

test('stats: an instance that could not start carries the reason as `error`, the others none', () => {
  const failed: StatsReply = { wan_out: { ...STATS.wan_out, error: "rule 'x': syntax error" } };
  const js = tableToJs(statsToBlobmsg({ ...STATS, ...failed })) as Record<string, Record<string, unknown>>;
  assert.equal(js.wan_out.error, "rule 'x': syntax error");
  assert.ok(!('error' in js.eth0_in));
});
