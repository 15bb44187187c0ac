/**
 * The object-server side of the captured transcripts, replayed against our
 * client through a fake ubusd: ubusd's messages are sent as captured (in
 * random pieces); what the client sends must equal the captured libubus
 * bytes: registration, replies, statuses, nothing for NOTIFY.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tableToJs } from '../../src/ubus/blobmsg';
import { MethodReply, UbusObjectClient, UbusObjectDefinition } from '../../src/ubus/client';
import { AttrId } from '../../src/ubus/message';
import { FakeConnection, FakeUbusd, tempSocketPath } from './fake-ubusd';
import { Fixture, FixtureMessage, fieldsFromFixture, fixtureAttrs, loadFixture, prng, substitute } from './fixtures';

type Ids = (old: number) => number;
const sameIds: Ids = (x) => x;

/** Fresh random ids for every id in the file, consistently. */
function newIds(seed: number): Ids {
  const rnd = prng(seed);
  const map = new Map<number, number>();
  return (old) => {
    let v = map.get(old);
    if (v === undefined) {
      v = (Math.floor(rnd() * 0xfffffffe) + 1) >>> 0;
      map.set(old, v);
    }
    return v;
  };
}

interface Call {
  method: string;
  args: unknown;
  reply: MethodReply;
}

/**
 * The object the captured test server was: same signature, and each call
 * answered with what that server answered (looked up by the caller's peer).
 */
function scriptedObject(messages: FixtureMessage[], ids: Ids, seen: Call[]): UbusObjectDefinition {
  const script = new Map<number, Call>();
  messages.forEach((m, i) => {
    if (m.dir !== 'ubusd->client' || m.header.type_name !== 'INVOKE') return;
    const method = String(fixtureAttrs(m, 'METHOD')[0].value);
    const args = tableToJs(fieldsFromFixture(fixtureAttrs(m, 'DATA')[0].children ?? []));
    const replies = messages.slice(i + 1).filter((r) => r.dir === 'client->ubusd' && r.header.peer === m.header.peer && r.header.seq === m.header.seq);
    const data = replies.find((r) => r.header.type_name === 'DATA');
    const status = replies.find((r) => r.header.type_name === 'STATUS');
    assert.ok(status, `no STATUS after INVOKE #${m.n}`);
    script.set(ids(m.header.peer), {
      method, args,
      reply: {
        status: Number(fixtureAttrs(status, 'STATUS')[0].value),
        data: data ? fieldsFromFixture(fixtureAttrs(data, 'DATA')[0].children ?? []) : undefined,
      },
    });
  });
  const handler = (method: string) => ({
    args: [['instance', 3]] as const,
    handle(args: Parameters<typeof tableToJs>[0], ctx: { peer: number; method: string; user?: string; group?: string }): MethodReply {
      const call = script.get(ctx.peer);
      assert.ok(call, `unexpected call from peer ${ctx.peer.toString(16)}`);
      assert.equal(ctx.method, method);
      assert.equal(call.method, method);
      assert.deepEqual(tableToJs(args), call.args);
      assert.equal(ctx.user, 'root');
      assert.equal(ctx.group, 'root');
      seen.push(call);
      return call.reply;
    },
  });
  return {
    path: 'bpfcountd',
    methods: [['stats', handler('stats')], ['rules', handler('rules')], ['reload', { ...handler('reload'), args: [] }]],
  };
}

/** Plays one captured connection: sends ubusd's messages, checks the client's. Returns how many were checked. */
async function play(c: FakeConnection, messages: FixtureMessage[], bytes: (m: FixtureMessage) => Buffer): Promise<number> {
  let batch: Buffer[] = [];
  let checked = 0;
  for (const m of messages) {
    if (m.dir === 'ubusd->client') {
      batch.push(bytes(m));
      continue;
    }
    if (batch.length) await c.send(Buffer.concat(batch));
    batch = [];
    const got = await c.next();
    assert.equal(got?.toString('hex'), bytes(m).toString('hex'), `client message #${m.n} (${m.header.type_name})`);
    checked++;
  }
  if (batch.length) await c.send(Buffer.concat(batch));
  return checked;
}

const conn = (fx: Fixture, n: number) => fx.messages.filter((m) => m.conn === n);
const byN = (fx: Fixture, n: number) => {
  const m = fx.messages.find((x) => x.n === n);
  assert.ok(m, `message #${n}`);
  return m;
};

function client(socketPath: string, object: UbusObjectDefinition, logs: string[]): UbusObjectClient {
  return new UbusObjectClient({ socketPath, object, log: (m) => logs.push(m), retryInitialMs: 10, retryMaxMs: 80 });
}

for (const [label, idsFor] of [['captured ids', () => sameIds], ['substituted ids', () => newIds(42)]] as const) {
  test(`scenario A replayed (${label}): registration, 7 calls, NOTIFYs unanswered`, async () => {
    const fx = loadFixture('scenario-a-object-server.json');
    const ids = idsFor();
    const { dir, socket } = tempSocketPath();
    const ubusd = await FakeUbusd.listen(socket);
    const seen: Call[] = [];
    const logs: string[] = [];
    const msgs = conn(fx, 1);
    const cl = client(socket, scriptedObject(msgs, ids, seen), logs);
    try {
      cl.start();
      const c = await ubusd.accept();
      const checked = await play(c, msgs, (m) => substitute(m, ids));
      assert.equal(checked, 11); // ADD_OBJECT + 10 replies (7 STATUS, 3 DATA)
      assert.deepEqual(seen.map((s) => s.method), ['stats', 'stats', 'rules', 'reload', 'stats', 'stats']);
      assert.equal(cl.objectId, ids(0x399708a8));
      // The last messages were two NOTIFYs. If the client answered them, that
      // answer would arrive before the reply to this extra call.
      // Same caller as the wlan0 call (its script answers NOT_FOUND), with a new seq.
      await c.send(substitute(byN(fx, 60), ids, 9));
      const got = await c.next();
      const expected = substitute(byN(fx, 61), ids, 9);
      assert.equal(got?.toString('hex'), expected.toString('hex'));
      assert.deepEqual(logs, [`ubus: registered object 'bpfcountd' (id 0x${ids(0x399708a8).toString(16).padStart(8, '0')})`]);
    } finally {
      cl.close();
      await ubusd.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('scenario C: waits for a missing socket, survives a ubusd restart, registers again with the full signature', async () => {
  const fx = loadFixture('scenario-c-ubusd-restart.json');
  const { dir, socket } = tempSocketPath();
  const seen: Call[] = [];
  const logs: string[] = [];
  const cl = client(socket, scriptedObject(fx.messages.filter((m) => m.conn === 1 || m.conn === 5), sameIds, seen), logs);
  let ubusd: FakeUbusd | undefined;
  try {
    cl.start();
    // No ubusd yet: the client keeps trying (10, 20, 40, 80 ms ...) and logs that once.
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(logs.length, 1);
    assert.match(logs[0], /cannot connect to .*ENOENT/);
    ubusd = await FakeUbusd.listen(socket);
    let c = await ubusd.accept(1000);
    assert.equal(await play(c, conn(fx, 1), (m) => Buffer.from(m.hex, 'hex')), 2);
    // ubusd dies: EOF, socket file gone for a while.
    await ubusd.close();
    assert.equal(await c.next(), null);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(fs.existsSync(socket), false);
    ubusd = await FakeUbusd.listen(socket);
    c = await ubusd.accept(1000);
    // Conn 5 starts with a new HELLO; our ADD_OBJECT must be byte-identical to libubus's (seq 2, full signature).
    assert.equal(await play(c, conn(fx, 5), (m) => Buffer.from(m.hex, 'hex')), 4);
    assert.deepEqual(seen.map((s) => s.method), ['reload', 'reload', 'stats']);
    assert.equal(cl.objectId, 0x564fab47);
    assert.equal(logs.filter((l) => /cannot connect/.test(l)).length, 1);
    assert.equal(logs.filter((l) => /lost the connection/.test(l)).length, 1);
    assert.equal(logs.filter((l) => /registered object/.test(l)).length, 2);
  } finally {
    cl.close();
    await ubusd?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('scenario D: name taken -> logged once, retried, registered once the name is free', async () => {
  const fx = loadFixture('scenario-d-duplicate-name.json');
  const { dir, socket } = tempSocketPath();
  const ubusd = await FakeUbusd.listen(socket);
  const seen: Call[] = [];
  const logs: string[] = [];
  const cl = client(socket, scriptedObject(conn(fx, 1), sameIds, seen), logs);
  const hex = (m: FixtureMessage, seq?: number) => substitute(m, sameIds, seq);
  try {
    cl.start();
    // Twice refused like server #2 in the capture (STATUS 2, no DATA); seq keeps counting.
    for (const seq of [1, 2]) {
      const c = await ubusd.accept();
      await c.send(hex(byN(fx, 5)));
      assert.equal((await c.next())?.toString('hex'), hex(byN(fx, 6), seq).toString('hex'));
      await c.send(hex(byN(fx, 7), seq));
      assert.equal(await c.next(), null, 'client hangs up after the refusal');
    }
    // Then accepted like server #1, and a call gets through.
    const c = await ubusd.accept();
    await c.send(hex(byN(fx, 1)));
    assert.equal((await c.next())?.toString('hex'), hex(byN(fx, 2), 3).toString('hex'));
    await c.send(Buffer.concat([hex(byN(fx, 3), 3), hex(byN(fx, 4), 3)]));
    await c.send(hex(byN(fx, 13)));
    assert.equal((await c.next())?.toString('hex'), byN(fx, 14).hex);
    assert.deepEqual(seen.map((s) => s.method), ['reload']);
    assert.equal(logs.length, 2, logs.join('\n'));
    assert.match(logs[0], /'bpfcountd' is already registered/);
    assert.match(logs[1], /registered object 'bpfcountd' \(id 0xcb3cc3f9\)/);
  } finally {
    cl.close();
    await ubusd.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ubus attribute ids used by the replay are the captured ones', () => {
  // Guards the substitution helper: OBJID is attribute 3 in every capture.
  const fx = loadFixture('scenario-a-object-server.json');
  assert.ok(fx.messages.every((m) => fixtureAttrs(m, 'OBJID').every((a) => a.id === AttrId.OBJID)));
});

test('an answer that takes time does not hold up other callers; replies keep their own (peer, seq)', async () => {
  const fx = loadFixture('scenario-a-object-server.json');
  const { dir, socket } = tempSocketPath();
  const ubusd = await FakeUbusd.listen(socket);
  const logs: string[] = [];
  let release: () => void = () => undefined;
  const slow = new Promise<void>((r) => { release = r; });
  const object: UbusObjectDefinition = {
    path: 'bpfcountd',
    methods: [
      ['stats', { args: [['instance', 3]], handle: async (): Promise<MethodReply> => { await slow; return { status: 4 }; } }],
      ['rules', { args: [['instance', 3]], handle: (): MethodReply => ({ status: 0 }) }],
      ['reload', { args: [], handle: (): MethodReply => ({ status: 0 }) }],
    ],
  };
  const cl = client(socket, object, logs);
  try {
    cl.start();
    const c = await ubusd.accept();
    await play(c, conn(fx, 1).filter((m) => m.n <= 4), (m) => Buffer.from(m.hex, 'hex'));
    // stats from caller 0x24ced760 (slow), then reload from caller 0x1b21522d (immediate).
    await c.send(Buffer.concat([bytesOfN(fx, 60), bytesOfN(fx, 44)]));
    assert.equal((await c.next())?.toString('hex'), byN(fx, 45).hex, 'reload answered first');
    release();
    assert.equal((await c.next())?.toString('hex'), byN(fx, 61).hex, 'then the slow stats, to its own caller');
  } finally {
    cl.close();
    await ubusd.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function bytesOfN(fx: Fixture, n: number): Buffer {
  return Buffer.from(byN(fx, n).hex, 'hex');
}
