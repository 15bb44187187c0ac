/**
 * The LuCI app, run in node: the format module and the status view are loaded
 * the way LuCI's loader does it (leading 'require' directives become factory
 * arguments, the factory returns a class that is instantiated), with small
 * stand-ins for rpc/poll/ui/dom/E/_; plus the menu entry and the rpcd ACL
 * checked against the ubus object's real method names.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bpfcountdObject, UBUS_OBJECT_NAME } from '../../src/outputs/ubus-object';
import { DaemonControl, StatsReply } from '../../src/service/model';

// build/test/ubus -> repo root (BPFCOUNTD_ROOT when the tests were compiled elsewhere).
const ROOT = process.env.BPFCOUNTD_ROOT ?? path.resolve(__dirname, '../../..');
const APP = path.join(ROOT, 'openwrt/luci-app-bpfcountd');
const RESOURCES = path.join(APP, 'htdocs/luci-static/resources');

/** The quoted directives at the top of a LuCI class file, as LuCI's loader reads them. */
function directives(source: string): { requires: { name: string; as: string }[] } {
  const requires: { name: string; as: string }[] = [];
  const re = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*(['"])(.*?)\1;?/;
  let rest = source;
  for (;;) {
    const m = re.exec(rest);
    if (!m) break;
    const text = m[2];
    const req = /^require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?$/.exec(text);
    if (req) requires.push({ name: req[1], as: req[2] ?? req[1].replace(/[^a-zA-Z0-9_]/g, '_') });
    else if (!/^use[ \t]+strict$/.test(text)) break;
    rest = rest.slice(m[0].length);
  }
  return { requires };
}

type Ctor = new () => Record<string, unknown>;

/** LuCI's class helper, reduced to what these files use. */
const baseclass = {
  extend(props: Record<string, unknown>): Ctor {
    const C = function (this: Record<string, unknown>) { /* instance */ } as unknown as Ctor;
    C.prototype = Object.assign(Object.create(null) as object, props);
    return C;
  },
};

function loadClass(file: string, deps: Record<string, unknown>): Record<string, unknown> {
  const source = fs.readFileSync(file, 'utf8');
  const { requires } = directives(source);
  for (const r of requires) assert.ok(r.name in deps, `${path.basename(file)} requires '${r.name}'`);
  const factory = new Function('window', 'document', 'L', ...requires.map((r) => r.as), source) as (...a: unknown[]) => Ctor;
  const cls = factory({}, {}, {}, ...requires.map((r) => deps[r.name]));
  assert.equal(typeof cls, 'function', 'the factory returns a class');
  return new cls();
}

interface Format {
  bytes(n: unknown): string;
  count(n: unknown): string;
  bitRate(n: unknown): string;
  packetRate(n: unknown): string;
  dropRatio(d: unknown): string;
  ruleRows(i: unknown): string[][];
  instances(s: unknown): { name: string; interface: string; state: string; dropRatio: string; rules: string[][] }[];
}

const loadFormat = () => loadClass(path.join(RESOURCES, 'bpfcountd/format.js'), { baseclass }) as unknown as Format;

const STATS: StatsReply = {
  wan_out: {
    interface: 'wan', prefilter: 'outbound', state: 'waiting', socket: '/var/run/bpfcountd/wan_out.sock',
    drops: { received: 0, dropped: 0, ifdropped: 0 }, rules: [],
  },
  eth0_in: {
    interface: 'eth0', prefilter: 'inbound', state: 'running', socket: '/var/run/bpfcountd/eth0_in.sock',
    drops: { received: 4000, dropped: 10, ifdropped: 1 },
    rules: [
      { id: 'arp', bytes: 450, packets: 10, bytes_per_second: 12.5, packets_per_second: 0.25 },
      { id: 'ipv6', bytes: 5000000000, packets: 4000000, bytes_per_second: 1250000, packets_per_second: 12000 },
    ],
  },
};

test('format module: units, rates, drop ratio, rows', () => {
  const f = loadFormat();
  assert.equal(f.bytes(0), '0 B');
  assert.equal(f.bytes(1023), '1023 B');
  assert.equal(f.bytes(1536), '1.50 KiB');
  assert.equal(f.bytes(5000000000), '4.66 GiB');
  assert.equal(f.bytes(2 ** 53 - 1), '8.00 PiB');
  assert.equal(f.count(999), '999');
  assert.equal(f.count(4000000), '4.00 M');
  assert.equal(f.bitRate(12.5), '100 bit/s');
  assert.equal(f.bitRate(1250000), '10.00 Mbit/s');
  assert.equal(f.packetRate(0.25), '0.25 pkt/s');
  assert.equal(f.packetRate(12000), '12.00 kpkt/s');
  assert.equal(f.dropRatio({ received: 4000, dropped: 10 }), '0.25 %');
  assert.equal(f.dropRatio({ received: 0, dropped: 0 }), '0.00 %');
  for (const bad of [undefined, null, -1, NaN, Infinity, '12']) {
    assert.equal(f.bytes(bad), '-');
    assert.equal(f.bitRate(bad), '-');
  }
  assert.equal(f.dropRatio(null), '-');
  const list = f.instances(JSON.parse(JSON.stringify(STATS)));
  assert.deepEqual(list.map((i) => [i.name, i.interface, i.state, i.dropRatio]), [
    ['eth0_in', 'eth0', 'running', '0.25 %'], ['wan_out', 'wan', 'waiting', '0.00 %'],
  ]);
  assert.deepEqual(list[0].rules, [
    ['arp', '450 B', '10', '100 bit/s', '0.25 pkt/s'],
    ['ipv6', '4.66 GiB', '4.00 M', '10.00 Mbit/s', '12.00 kpkt/s'],
  ]);
  assert.deepEqual(f.instances(null), []);
  assert.deepEqual(f.ruleRows({}), []);
});

/** A DOM stand-in: E() builds plain nodes, text() flattens them. */
interface FakeNode { tag: string; attrs: Record<string, unknown>; children: unknown[]; appendChild(c: unknown): void }
function E(tag: string | unknown[], attrs?: unknown, children?: unknown): FakeNode {
  if (Array.isArray(attrs) || typeof attrs !== 'object' || attrs === null || (attrs as FakeNode).tag !== undefined) {
    children = attrs;
    attrs = {};
  }
  const node: FakeNode = {
    tag: Array.isArray(tag) ? '#fragment' : tag, attrs: attrs as Record<string, unknown>, children: [],
    appendChild(c) { this.children.push(c); },
  };
  if (children !== undefined) node.children = Array.isArray(children) ? [...children] : [children];
  return node;
}
function text(n: unknown): string {
  if (n === null || n === undefined) return '';
  if (typeof n === 'string') return n;
  if (Array.isArray(n)) return n.map(text).join(' ');
  return (n as FakeNode).children.map(text).join(' ');
}

test('status view: declares the ubus calls, renders every instance and rule, refreshes by poll', async () => {
  const declared: { object: string; method: string; reject?: boolean }[] = [];
  let reply: unknown = JSON.parse(JSON.stringify(STATS));
  let polled: { fn: () => Promise<unknown>; interval: number } | undefined;
  const rpc = {
    declare(d: { object: string; method: string; reject?: boolean }) {
      declared.push({ object: d.object, method: d.method, reject: d.reject });
      return () => (reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply));
    },
  };
  const poll = { add(fn: () => Promise<unknown>, interval: number) { polled = { fn, interval }; } };
  const dom = { content(node: FakeNode, c: unknown) { node.children = Array.isArray(c) ? [...c] : [c]; } };
  const ui = { createHandlerFn: (_self: unknown, fn: () => unknown) => fn, addNotification: () => undefined };
  const g = globalThis as unknown as Record<string, unknown>;
  const proto = String.prototype as unknown as Record<string, unknown>;
  g.E = E;
  g._ = (s: string) => s;
  proto.format = function (this: string, ...args: unknown[]) { let i = 0; return this.replace(/%s/g, () => String(args[i++])); };
  try {
    const view = loadClass(path.join(RESOURCES, 'view/bpfcountd/status.js'), {
      view: baseclass, rpc, poll, ui, dom, 'bpfcountd.format': loadFormat(),
    }) as unknown as { load(): Promise<unknown>; render(d: unknown): FakeNode; handleSave: unknown };
    // reject: true, or LuCI resolves a failed call with the bare ubus status code.
    assert.deepEqual(declared, [
      { object: 'bpfcountd', method: 'stats', reject: true }, { object: 'bpfcountd', method: 'reload', reject: true },
    ]);
    assert.equal(view.handleSave, null, 'no Save buttons on a status page');
    const page = view.render(await view.load());
    const shown = text(page);
    for (const s of ['eth0_in', 'wan_out', 'eth0', 'waiting for the interface', 'arp', '4.66 GiB', '10.00 Mbit/s', '12.00 kpkt/s', '0.25 %']) {
      assert.ok(shown.includes(s), `page shows '${s}'`);
    }
    assert.ok(shown.indexOf('eth0_in') < shown.indexOf('wan_out'), 'instances sorted by name');
    assert.ok(polled);
    assert.equal(polled.interval, 5);
    reply = { eth0_in: { ...STATS.eth0_in, rules: [{ ...STATS.eth0_in.rules[0], bytes: 2048 }] } };
    await polled.fn();
    assert.ok(text(page).includes('2.00 KiB'));
    assert.ok(!text(page).includes('wan_out'));
    reply = new Error('Object not found');
    await polled.fn();
    assert.match(text(page), /does not answer on ubus: Object not found/);
    // Daemon not running when the page opens.
    const down = view.render(await view.load());
    assert.match(text(down), /does not answer on ubus: Object not found/);
  } finally {
    delete g.E;
    delete g._;
    delete proto.format;
  }
});

test('menu entry and rpcd ACL match the view and the ubus object', () => {
  const menu = JSON.parse(fs.readFileSync(path.join(APP, 'root/usr/share/luci/menu.d/luci-app-bpfcountd.json'), 'utf8')) as
    Record<string, { action: { type: string; path: string }; depends: { acl: string[] } }>;
  const entry = menu['admin/status/bpfcountd'];
  assert.ok(entry);
  assert.equal(entry.action.type, 'view');
  assert.ok(fs.existsSync(path.join(RESOURCES, 'view', `${entry.action.path}.js`)));
  const acl = JSON.parse(fs.readFileSync(path.join(APP, 'root/usr/share/rpcd/acl.d/luci-app-bpfcountd.json'), 'utf8')) as
    Record<string, { read: { ubus: Record<string, string[]>; uci: string[] }; write: { ubus: Record<string, string[]>; uci: string[] } }>;
  assert.deepEqual(entry.depends.acl, ['luci-app-bpfcountd']);
  const grant = acl['luci-app-bpfcountd'];
  assert.deepEqual(grant.read.ubus, { [UBUS_OBJECT_NAME]: ['stats', 'rules'] });
  assert.deepEqual(grant.write.ubus, { [UBUS_OBJECT_NAME]: ['reload'] });
  assert.deepEqual(grant.read.uci, ['bpfcountd']);
  assert.deepEqual(grant.write.uci, ['bpfcountd']);
  const unused = {} as DaemonControl;
  const methods = bpfcountdObject(unused).methods.map(([m]) => m).sort();
  assert.deepEqual([...grant.read.ubus.bpfcountd, ...grant.write.ubus.bpfcountd].sort(), methods);
});
