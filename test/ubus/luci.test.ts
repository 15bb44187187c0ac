/**
 * The LuCI app, run in node: the format module and both views are loaded the
 * way LuCI's loader does it (leading 'require' directives become factory
 * arguments, the factory returns a class that is instantiated), with small
 * stand-ins for rpc/poll/ui/dom/form/widgets/E/_/L; plus the menu entries and
 * the rpcd ACL checked against the ubus object's real method names.
 * Expected strings are written out by hand, not computed with the code under test.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bpfcountdObject, UBUS_OBJECT_NAME } from '../../src/outputs/ubus-object';
import { DaemonControl, RulesReply, StatsReply } from '../../src/service/model';

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

function loadClass(file: string, deps: Record<string, unknown>, L: Record<string, unknown> = {}): Record<string, unknown> {
  const source = fs.readFileSync(file, 'utf8');
  const { requires } = directives(source);
  for (const r of requires) assert.ok(r.name in deps, `${path.basename(file)} requires '${r.name}'`);
  assert.deepEqual(Object.keys(deps).sort(), requires.map((r) => r.name).sort(), `${path.basename(file)}: exactly these requires`);
  const factory = new Function('window', 'document', 'L', ...requires.map((r) => r.as), source) as (...a: unknown[]) => Ctor;
  const cls = factory({}, {}, L, ...requires.map((r) => deps[r.name]));
  assert.equal(typeof cls, 'function', 'the factory returns a class');
  return new cls();
}

/* ---------- LuCI's globals and a DOM stand-in ---------- */

/** A DOM stand-in: E() builds plain nodes; markup strings (E('<svg ...>')) stay as they are. */
interface FakeNode { tag: string; attrs: Record<string, unknown>; children: unknown[]; html?: string; appendChild(c: unknown): void }
function E(tag: string | unknown[], attrs?: unknown, children?: unknown): FakeNode {
  if (Array.isArray(attrs) || typeof attrs !== 'object' || attrs === null || (attrs as FakeNode).tag !== undefined) {
    children = attrs;
    attrs = {};
  }
  const markup = typeof tag === 'string' && tag.startsWith('<');
  const node: FakeNode = {
    tag: Array.isArray(tag) ? '#fragment' : markup ? '#markup' : tag, attrs: attrs as Record<string, unknown>, children: [],
    appendChild(c) { this.children.push(c); },
  };
  if (markup) node.html = tag as string;
  if (children !== undefined) node.children = Array.isArray(children) ? [...children] : [children];
  return node;
}
function text(n: unknown): string {
  if (n === null || n === undefined) return '';
  if (typeof n === 'string') return n;
  if (Array.isArray(n)) return n.map(text).join(' ');
  return (n as FakeNode).children.map(text).join(' ');
}
function findAll(n: unknown, pred: (node: FakeNode) => boolean, out: FakeNode[] = []): FakeNode[] {
  if (Array.isArray(n)) n.forEach((c) => findAll(c, pred, out));
  else if (n !== null && typeof n === 'object' && 'children' in n) {
    const node = n as FakeNode;
    if (pred(node)) out.push(node);
    node.children.forEach((c) => findAll(c, pred, out));
  }
  return out;
}

const g = globalThis as unknown as Record<string, unknown>;
const proto = String.prototype as unknown as Record<string, unknown>;
before(() => {
  g.E = E;
  g._ = (s: string) => s;
  proto.format = function (this: string, ...args: unknown[]) { let i = 0; return this.replace(/%s/g, () => String(args[i++])); };
});
after(() => {
  delete g.E;
  delete g._;
  delete proto.format;
});

/* ---------- the format module ---------- */

interface History {
  record(stats: unknown, nowMs: number): void;
  gap(): void;
  samples(instance: string, id: string): (number | null)[];
}
interface Format {
  bytes(n: unknown): string;
  count(n: unknown): string;
  bitRate(n: unknown): string;
  packetRate(n: unknown): string;
  dropRatio(d: unknown): string;
  ruleRows(i: unknown): string[][];
  instances(s: unknown, r?: unknown): { name: string; interface: string; state: string; error: string; kernelFilter: string[]; dropRatio: string; rules: string[][] }[];
  errorMessage(err: unknown, what?: string): string;
  isNotRunning(err: unknown): boolean;
  rateHistory(size?: number): History;
  peak(samples: unknown): number;
  graph(samples: (number | null)[], size?: number): string;
  ruleLineError(line: unknown): string | null;
  ifnameError(name: unknown): string | null;
  socketError(path: unknown): string | null;
  refusals(reply: unknown): string[];
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

const RULES: RulesReply = {
  eth0_in: {
    interface: 'eth0', prefilter: 'inbound', kernel_filter: 'inbound and (arp or ip6)', snaplen: 262144,
    rules: [{ id: 'arp', expression: 'arp', engine: 'javascript' }, { id: 'ipv6', expression: 'ip6', engine: 'javascript' }],
  },
  wan_out: { interface: 'wan', prefilter: 'outbound', kernel_filter: '', snaplen: 0, rules: [] },
};

/** What LuCI's rpc.js rejects with when ubusd has no object `bpfcountd` (L.raise appends the stack). */
const NOT_RUNNING = new Error('RPC call to bpfcountd/stats failed with error -32000: Object not found\n'
  + '    at ClassConstructor.handleCallReply (http://192.168.1.1/luci-static/resources/rpc.js:82:7)');
const NOT_RUNNING_ONE_LINE = new Error('RPC call to bpfcountd/stats failed with error -32000: Object not found '
  + 'at ClassConstructor.handleCallReply (http://192.168.1.1/luci-static/resources/rpc.js:82:7)');
const STARTS = 'bpfcountd is not running. Start it with /etc/init.d/bpfcountd start';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

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
  const list = f.instances(clone(STATS), clone(RULES));
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

test('format module: instance state, start error and kernel filter note', () => {
  const f = loadFormat();
  const stats = clone(STATS);
  stats.wan_out.error = 'wan: You don\'t have permission to capture on that device';
  const rules = clone(RULES);
  rules.eth0_in.kernel_filter = '';
  const [eth0, wan] = f.instances(stats, rules);
  assert.equal(wan.state, 'failed', 'waiting with an error: it is not counting');
  assert.equal(wan.error, 'wan: You don\'t have permission to capture on that device');
  assert.deepEqual(wan.kernelFilter, ['waiting', ''], 'no kernel filter while not counting');
  assert.deepEqual(eth0.kernelFilter, ['none', ''], 'an empty kernel filter: every packet reaches the daemon');
  assert.equal(eth0.error, '');
  assert.deepEqual(f.instances(clone(STATS), clone(RULES))[0].kernelFilter, ['filter', 'inbound and (arp or ip6)']);
  assert.deepEqual(f.instances(clone(STATS), null)[0].kernelFilter, ['waiting', ''], 'without a rules reply nothing is claimed');
});

test('format module: failed ubus calls in plain words, never a stack', () => {
  const f = loadFormat();
  for (const err of [NOT_RUNNING, NOT_RUNNING_ONE_LINE]) {
    const m = f.errorMessage(err, 'stats');
    assert.ok(m.startsWith(STARTS), m);
    assert.ok(!/rpc\.js|ClassConstructor|RPC call|-32000/.test(m), `no stack or code: ${m}`);
    assert.equal(f.isNotRunning(err), true);
  }
  assert.equal(f.isNotRunning(new Error('RPC call to bpfcountd/reload failed with error -32002: Access denied')), false);
  assert.equal(f.errorMessage(new Error('RPC call to bpfcountd/reload failed with error -32002: Access denied\n    at x (y.js:1:1)'), 'reload'),
    'Access denied: your login lacks the ACL group luci-app-bpfcountd for this (reload).');
  assert.equal(f.errorMessage(new Error('RPC call to bpfcountd/check failed with ubus code 3: Method not found'), 'check'),
    'The running bpfcountd does not know "check": it is older than this page. Update the bpfcountd package and restart it.');
  assert.equal(f.errorMessage(new Error('RPC call to bpfcountd/stats failed with ubus code 7: Request timeout'), 'stats'),
    'bpfcountd did not answer in time (stats).');
  assert.equal(f.errorMessage(new Error('RPC call to bpfcountd/stats failed with ubus code 9: Unspecified error'), 'stats'),
    'bpfcountd could not answer (stats); its log says why: logread -e bpfcountd');
  assert.equal(f.errorMessage(new Error('XHR request timed out\n    at foo (luci.js:3:3)'), 'stats'), 'bpfcountd: stats failed: XHR request timed out');
});

test('format module: rate history from counter differences, gaps, forgotten rules, a bounded length', () => {
  const f = loadFormat();
  const h = f.rateHistory(3);
  const at = (packets: number, pps: number, extra: StatsReply = {}): StatsReply => ({
    ...extra,
    eth0_in: { ...clone(STATS.eth0_in), rules: [{ id: 'arp', bytes: 0, packets, bytes_per_second: 0, packets_per_second: pps }] },
  });
  h.record(at(100, 2), 10000); // first poll: the daemon's own rate
  h.record(at(600, 7), 15000); // 500 packets in 5 s
  assert.deepEqual(h.samples('eth0_in', 'arp'), [2, 100]);
  h.record(at(40, 8), 20000); // counter restarted (a reload changed the rule): the daemon's rate
  assert.deepEqual(h.samples('eth0_in', 'arp'), [2, 100, 8]);
  h.gap(); // a failed poll
  assert.deepEqual(h.samples('eth0_in', 'arp'), [100, 8, null], 'at most 3 samples, oldest dropped');
  h.record(at(90, 1), 30000); // after a gap no difference spans it
  assert.deepEqual(h.samples('eth0_in', 'arp'), [8, null, 1]);
  h.record({ eth0_in: { ...clone(STATS.eth0_in), rules: [] } }, 35000);
  assert.deepEqual(h.samples('eth0_in', 'arp'), [], 'a rule gone after a reload is forgotten');
  assert.deepEqual(f.rateHistory().samples('x', 'y'), []);
});

test('format module: the graph is an SVG of the samples, newest at the right, scaled to the peak, gaps split the line', () => {
  const f = loadFormat();
  // 4 slots over a 120 x 24 box: x = 0, 40, 80, 120; y = 23 - v / peak * 22.
  const svg = f.graph([0, 10, null, 5], 4);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*viewBox="0 0 120 24"[^>]*>.*<\/svg>$/);
  const lines = [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(lines, ['0,23 40,1', '100,12 120,12'], 'a lone sample after the gap is drawn as a short flat line');
  const areas = [...svg.matchAll(/<polygon points="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(areas, ['0,24 0,23 40,1 40,24', '100,24 100,12 120,12 120,24']);
  // Fewer samples than slots: right-aligned.
  assert.deepEqual([...f.graph([3, 6], 4).matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]), ['80,12 120,1']);
  // All zero: a flat line at the bottom, no division by zero.
  assert.deepEqual([...f.graph([0, 0], 3).matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]), ['60,23 120,23']);
  assert.equal([...f.graph([]).matchAll(/<polyline/g)].length, 0, 'no samples, no line');
  assert.ok(!/NaN|undefined|Infinity/.test(f.graph([null, 1, NaN, -3, 2], 5)));
  // Only digits, dots, commas and blanks inside points: nothing from the reply reaches the markup.
  for (const m of f.graph([1, 2, 3]).matchAll(/points="([^"]*)"/g)) assert.match(m[1], /^[0-9., ]+$/);
  assert.equal(f.peak([1, null, 7.5, 3]), 7.5);
  assert.equal(f.peak([]), 0);
});

test('format module: rule lines, interface names, socket paths and check replies', () => {
  const f = loadFormat();
  assert.equal(f.ruleLineError('arp;arp'), null);
  assert.equal(f.ruleLineError('mdns; udp port 5353'), null);
  assert.equal(f.ruleLineError('arp'), 'Write the rule as id;expression, e.g. arp;arp');
  assert.equal(f.ruleLineError(' ;arp'), 'The rule needs an id before the ";"');
  assert.equal(f.ruleLineError('arp; '), 'The rule needs a tcpdump expression after the ";"');
  assert.equal(f.ifnameError('br-lan'), null);
  assert.equal(f.ifnameError(''), 'Choose the interface to count on');
  assert.equal(f.ifnameError('br lan'), 'Not an interface name: no blanks or "/", at most 15 characters');
  assert.equal(f.ifnameError('a234567890123456'), 'Not an interface name: no blanks or "/", at most 15 characters');
  assert.equal(f.ifnameError('a23456789012345'), null);
  assert.equal(f.socketError(''), null);
  assert.equal(f.socketError('/tmp/x.sock'), null);
  assert.equal(f.socketError('x.sock'), 'The socket path must be absolute');
  assert.equal(f.socketError(`/${'a'.repeat(106)}`), null, '107 bytes fit');
  assert.equal(f.socketError(`/${'a'.repeat(107)}`), 'The socket path is longer than 107 bytes');
  assert.equal(f.socketError(`/${'ä'.repeat(54)}`), 'The socket path is longer than 107 bytes', 'counted in bytes, not characters');
  assert.deepEqual(f.refusals({
    rules: [
      { id: 'arp', ok: true, engine: 'javascript' },
      { id: 'bad', ok: false, error: 'can\'t parse filter expression: syntax error', detail: 'syntax error at character 8: and tcp' },
      { id: '', ok: false, error: 'missing \';\' between rule id and expression' },
      { id: 'p', ok: false, error: 'illegal port number 99999 > 65535' },
    ],
    prefilter: { ok: false, error: 'unknown host \'nosuch\'' },
  }), [
    'prefilter: unknown host \'nosuch\'',
    'rule \'bad\': can\'t parse filter expression: syntax error (syntax error at character 8: and tcp)',
    'rule 3: missing \';\' between rule id and expression',
    'rule \'p\': illegal port number 99999 > 65535',
  ]);
  assert.deepEqual(f.refusals({ rules: [{ id: 'a', ok: true }], prefilter: { ok: true } }), []);
  assert.deepEqual(f.refusals(null), []);
});

/* ---------- rpc, poll, ui stand-ins ---------- */

interface Declared { object: string; method: string; params?: string[]; expect?: Record<string, unknown>; reject?: boolean }
interface FakeRpc {
  declared: Declared[];
  calls: { method: string; args: Record<string, unknown> }[];
  replies: Record<string, unknown>;
  declare(d: Declared): (...args: unknown[]) => Promise<unknown>;
}
function fakeRpc(replies: Record<string, unknown>): FakeRpc {
  const rpc: FakeRpc = {
    declared: [], calls: [], replies,
    declare(d) {
      rpc.declared.push(d);
      return (...args) => {
        const named: Record<string, unknown> = {};
        (d.params ?? []).forEach((p, i) => { if (args[i] !== undefined) named[p] = args[i]; });
        rpc.calls.push({ method: d.method, args: named });
        const reply = typeof rpc.replies[d.method] === 'function'
          ? (rpc.replies[d.method] as (a: Record<string, unknown>) => unknown)(named) : rpc.replies[d.method];
        if (reply instanceof Error) return Promise.reject(reply);
        // rpc.js's `expect`: the named member of the reply, or the given default when it is missing.
        let value = reply;
        for (const key of Object.keys(d.expect ?? {})) {
          if (key !== '' && value !== null && typeof value === 'object') value = (value as Record<string, unknown>)[key];
          if (value === undefined || value === null) value = (d.expect ?? {})[key];
          break;
        }
        return Promise.resolve(value);
      };
    },
  };
  return rpc;
}

interface Notification { text: string; kind: string }
function fakeUi(notes: Notification[]) {
  return {
    createHandlerFn: (self: Record<string, unknown>, fn: string | (() => unknown)) =>
      (typeof fn === 'string' ? (self[fn] as () => unknown).bind(self) : fn),
    addNotification: (_title: unknown, body: unknown, kind: string) => { notes.push({ text: text(body), kind }); },
  };
}

/* ---------- the status view ---------- */

interface StatusView {
  load(): Promise<unknown>;
  render(d: unknown): FakeNode;
  handleReload(): Promise<unknown>;
  handleSave: unknown;
}

function loadStatus(rpc: FakeRpc, notes: Notification[], canWrite: boolean) {
  let polled: { fn: () => Promise<unknown>; interval: number } | undefined;
  const poll = { add(fn: () => Promise<unknown>, interval: number) { polled = { fn, interval }; } };
  const dom = { content(node: FakeNode, c: unknown) { node.children = Array.isArray(c) ? [...c] : [c]; } };
  const view = loadClass(path.join(RESOURCES, 'view/bpfcountd/status.js'), {
    view: baseclass, rpc, poll, ui: fakeUi(notes), dom, 'bpfcountd.format': loadFormat(),
  }, { hasViewPermission: () => canWrite }) as unknown as StatusView;
  return { view, poll: () => { assert.ok(polled); return polled.fn(); }, interval: () => polled?.interval };
}

const graphsOf = (page: unknown, rule: string) => findAll(page, (n) => n.tag === 'tr' && n.attrs['data-rule'] === rule)
  .flatMap((row) => findAll(row, (n) => n.tag === '#markup')).map((n) => n.html ?? '');

test('status view: instances, rules, kernel filter and graphs; refreshed every 5 s; reload for writers', async () => {
  const rpc = fakeRpc({ stats: clone(STATS), rules: clone(RULES), check: { config: { ok: true } }, reload: 0 });
  const notes: Notification[] = [];
  const realNow = Date.now;
  let now = 1_000_000;
  Date.now = () => now;
  try {
    const s = loadStatus(rpc, notes, true);
    // reject: true, or LuCI resolves a failed call with the bare ubus status code.
    assert.deepEqual(rpc.declared.map((d) => [d.object, d.method, d.reject]), [
      ['bpfcountd', 'stats', true], ['bpfcountd', 'rules', true], ['bpfcountd', 'check', true], ['bpfcountd', 'reload', true],
    ]);
    assert.equal(s.view.handleSave, null, 'no Save buttons on a status page');
    const page = s.view.render(await s.view.load());
    const shown = text(page);
    for (const want of ['eth0_in', 'wan_out', 'eth0', 'counting', 'waiting for the interface to appear', 'arp', '4.66 GiB',
      '10.00 Mbit/s', '12.00 kpkt/s', '0.25 %', 'inbound and (arp or ip6)', 'Reload configuration',
      'not installed while the instance is not counting']) {
      assert.ok(shown.includes(want), `page shows '${want}'`);
    }
    assert.ok(!shown.includes('The saved configuration has an error'));
    assert.ok(shown.indexOf('eth0_in') < shown.indexOf('wan_out'), 'instances sorted by name');
    assert.equal(s.interval(), 5);
    assert.equal(graphsOf(page, 'arp').length, 1, 'one graph per rule');
    assert.equal(graphsOf(page, 'ipv6').length, 1);
    assert.match(graphsOf(page, 'arp')[0], /^<svg /);
    // 5 s later 40 more ARP packets: 8 pkt/s between the polls, drawn as a second point.
    now += 5000;
    const next = clone(STATS);
    next.eth0_in.rules[0] = { ...next.eth0_in.rules[0], bytes: 2048, packets: 50 };
    rpc.replies.stats = next;
    await s.poll();
    assert.ok(text(page).includes('2.00 KiB'));
    assert.match(text(page), /peak 8\.00 pkt\/s/);
    assert.deepEqual([...graphsOf(page, 'arp')[0].matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]), ['117.97,22.31 120,1'], 'x = 58 / 59 * 120; y = 23 - 0.25 / 8 * 22 (the first sample is the daemon rate)');
    // The daemon stops: plain words and the command, no stack; a gap in the graphs.
    rpc.replies.stats = NOT_RUNNING;
    now += 5000;
    await s.poll();
    const stopped = text(page);
    assert.ok(stopped.includes(STARTS), stopped);
    assert.ok(!/rpc\.js|ClassConstructor|RPC call/.test(stopped));
    assert.ok(!stopped.includes('eth0_in'), 'no stale counters');
    // Back again: the counters and the graph, split by the gap.
    rpc.replies.stats = next;
    now += 5000;
    await s.poll();
    assert.ok(text(page).includes('eth0_in'));
    assert.equal([...graphsOf(page, 'arp')[0].matchAll(/<polyline/g)].length, 2, 'the failed poll is a gap');
    // Reload: reload, then ask whether the saved configuration is accepted.
    rpc.replies.check = { config: { ok: false, error: '/etc/bpfcountd.filters:3: rule \'x\': syntax error' } };
    await s.view.handleReload();
    assert.deepEqual(rpc.calls.slice(-2).map((c) => c.method), ['reload', 'check']);
    assert.deepEqual(rpc.calls.at(-1)?.args, {}, 'check without rules: the saved configuration');
    assert.deepEqual(notes, [{ text: 'bpfcountd re-reads its configuration.', kind: 'info' }]);
    assert.ok(text(page).includes('The saved configuration has an error, so a reload does not apply it (the rules running now keep counting): /etc/bpfcountd.filters:3: rule \'x\': syntax error'));
    rpc.replies.reload = new Error('RPC call to bpfcountd/reload failed with error -32002: Access denied\n    at a (rpc.js:1:1)');
    await s.view.handleReload();
    assert.deepEqual(notes.at(-1), { text: 'Access denied: your login lacks the ACL group luci-app-bpfcountd for this (reload).', kind: 'error' });
  } finally {
    Date.now = realNow;
  }
});

test('status view: daemon stopped when the page opens, a section that cannot start, a read-only user', async () => {
  const notes: Notification[] = [];
  let rpc = fakeRpc({ stats: NOT_RUNNING, rules: NOT_RUNNING, check: NOT_RUNNING });
  let s = loadStatus(rpc, notes, true);
  const down = text(s.view.render(await s.view.load()));
  assert.ok(down.includes(STARTS), down);
  assert.ok(!/rpc\.js|ClassConstructor|RPC call|-32000/.test(down));

  const stats = clone(STATS);
  stats.wan_out.error = 'wan: That device is not up';
  rpc = fakeRpc({ stats, rules: new Error('RPC call to bpfcountd/rules failed with ubus code 9: Unspecified error'), check: { config: { ok: true } } });
  s = loadStatus(rpc, notes, false);
  const page = text(s.view.render(await s.view.load()));
  assert.ok(page.includes('Not counting: wan: That device is not up. bpfcountd retries every second.'), page);
  assert.ok(page.includes('not counting'));
  assert.ok(page.includes('arp'), 'a failed rules call only hides the kernel filter');
  assert.ok(!page.includes('Reload configuration'), 'no reload button without write access');
  assert.deepEqual(notes, []);
});

/* ---------- the configuration view ---------- */

const parsedBy: string[] = [];
class AbstractValue {
  section!: FakeSection;
  option!: string;
  title!: string;
  description?: string;
  parse(sectionId: string): Promise<void> {
    parsedBy.push(`${this.option}@${sectionId}`);
    return Promise.resolve();
  }
  isActive(): boolean { return true; }
  formvalue(sectionId: string): unknown { return this.section.values[sectionId]?.[this.option]; }
}
class Flag extends AbstractValue {}
class Value extends AbstractValue {}
class DynamicList extends AbstractValue {}
class DeviceSelect extends AbstractValue {}
class TypedSection {}
class FakeSection {
  options: AbstractValue[] = [];
  values: Record<string, Record<string, unknown>> = {};
  constructor(readonly cls: unknown, readonly type: string, readonly title: string, readonly description: string) {}
  option(cls: new () => AbstractValue, name: string, title: string, description?: string): AbstractValue {
    const o = new cls();
    Object.assign(o, { section: this, option: name, title, description });
    this.options.push(o);
    return o;
  }
  formvalue(sectionId: string, name: string): unknown {
    return this.options.find((o) => o.option === name)?.formvalue(sectionId);
  }
}
const maps: FakeMap[] = [];
class FakeMap {
  sections: FakeSection[] = [];
  constructor(readonly config: string, readonly title: string, readonly description: string) { maps.push(this); }
  section(cls: unknown, type: string, title: string, description: string): FakeSection {
    const s = new FakeSection(cls, type, title, description);
    this.sections.push(s);
    return s;
  }
  render(): Promise<FakeNode> { return Promise.resolve(E('div', { 'class': 'cbi-map' }, [])); }
}
const form = { Map: FakeMap, TypedSection, Flag, Value, DynamicList };

interface ConfigView { load(): Promise<unknown>; render(d: unknown): Promise<FakeNode> }
function loadConfig(rpc: FakeRpc, notes: Notification[]): ConfigView {
  return loadClass(path.join(RESOURCES, 'view/bpfcountd/config.js'), {
    view: baseclass, form, rpc, ui: fakeUi(notes), 'tools.widgets': { DeviceSelect }, 'bpfcountd.format': loadFormat(),
  }) as unknown as ConfigView;
}
const prop = (o: AbstractValue, name: string): unknown => (o as unknown as Record<string, unknown>)[name];
type Validate = (sid: string, value: unknown) => true | string;

test('config view: form.Map(bpfcountd) with the options the daemon reads, local validation', async () => {
  maps.length = 0;
  const notes: Notification[] = [];
  const view = loadConfig(fakeRpc({ check: { config: { ok: true } } }), notes);
  const page = await view.render(await view.load());
  assert.equal(maps.length, 1);
  const m = maps[0];
  assert.equal(m.config, 'bpfcountd');
  assert.equal(findAll(page, (n) => n.attrs.class === 'cbi-map').length, 1, 'the map is on the page');
  assert.ok(!text(page).includes('refused'));
  assert.equal(m.sections.length, 1);
  const s = m.sections[0];
  assert.equal(s.cls, TypedSection);
  assert.equal(s.type, 'bpfcountd');
  const sp = s as unknown as Record<string, unknown>;
  assert.equal(sp.addremove, true);
  assert.equal(sp.anonymous, false, 'named sections: the name is the instance name');
  assert.deepEqual(s.options.map((o) => [o.option, o.constructor.name]), [
    ['disabled', 'Flag'], ['ifname', 'DeviceSelect'], ['prefilter', 'Value'], ['filterfile', 'Value'],
    ['rule', 'DynamicList'], ['buffersize', 'Value'], ['socket', 'Value'],
  ]);
  const opt = (name: string) => { const o = s.options.find((x) => x.option === name); assert.ok(o); return o; };
  // "Enabled" writes the daemon's `disabled`: checked = '0'.
  assert.deepEqual([prop(opt('disabled'), 'enabled'), prop(opt('disabled'), 'disabled'), prop(opt('disabled'), 'default')], ['0', '1', '0']);
  assert.equal(prop(opt('disabled'), 'rmempty'), false);
  assert.equal(prop(opt('ifname'), 'rmempty'), false);
  assert.equal(prop(opt('buffersize'), 'datatype'), 'range(1,2147483647)');
  const rule = prop(opt('rule'), 'validate') as Validate;
  assert.equal(rule.call(opt('rule'), 'x', 'arp;arp'), true);
  assert.equal(rule.call(opt('rule'), 'x', ''), true, 'the empty input of a dynamic list is fine');
  assert.equal(rule.call(opt('rule'), 'x', 'arp'), 'Write the rule as id;expression, e.g. arp;arp');
  const ifname = prop(opt('ifname'), 'validate') as Validate;
  assert.equal(ifname.call(opt('ifname'), 'x', 'br-lan'), true);
  assert.equal(ifname.call(opt('ifname'), 'x', 'br lan'), 'Not an interface name: no blanks or "/", at most 15 characters');
  const socket = prop(opt('socket'), 'validate') as Validate;
  assert.equal(socket.call(opt('socket'), 'x', 'rel.sock'), 'The socket path must be absolute');
  assert.equal(socket.call(opt('socket'), 'x', ''), true);
  const file = prop(opt('filterfile'), 'validate') as Validate;
  assert.equal(file.call(opt('filterfile'), 'x', 'filters'), 'The path must be absolute');
  assert.equal(file.call(opt('filterfile'), 'x', '/etc/bpfcountd.filters'), true);
  assert.deepEqual(notes, []);
});

test('config view: saving asks the daemon; a refused rule stops the save with its message', async () => {
  maps.length = 0;
  parsedBy.length = 0;
  const notes: Notification[] = [];
  const verdicts: Record<string, unknown> = {
    'arp;arp': { id: 'arp', ok: true, engine: 'javascript' },
    'bad;ip and and tcp': { id: 'bad', ok: false, error: 'can\'t parse filter expression: syntax error', detail: 'syntax error at character 8: and tcp' },
  };
  const rpc = fakeRpc({
    check: (args: Record<string, unknown>) => (args.rules === undefined ? { config: { ok: true } }
      : { rules: (args.rules as string[]).map((r) => verdicts[r]), prefilter: { ok: true } }),
  });
  const view = loadConfig(rpc, notes);
  await view.render(await view.load());
  const s = maps[0].sections[0];
  const rule = s.options.find((o) => o.option === 'rule');
  assert.ok(rule);
  s.values.lan_in = { disabled: '0', ifname: 'br-lan', prefilter: 'inbound', rule: ['arp;arp', 'bad;ip and and tcp'] };
  await assert.rejects(rule.parse('lan_in'), (err: Error) => {
    assert.ok(err instanceof TypeError);
    assert.equal(err.message, 'bpfcountd refuses section "lan_in": rule \'bad\': can\'t parse filter expression: syntax error (syntax error at character 8: and tcp)');
    return true;
  });
  assert.deepEqual(rpc.calls.at(-1), { method: 'check', args: { rules: ['arp;arp', 'bad;ip and and tcp'], ifname: 'br-lan', prefilter: 'inbound' } });
  assert.deepEqual(parsedBy, [], 'nothing written');
  // The refusal now also marks the entry itself.
  const validate = prop(rule, 'validate') as Validate;
  assert.equal(validate.call(rule, 'lan_in', 'bad;ip and and tcp'), 'rule \'bad\': can\'t parse filter expression: syntax error (syntax error at character 8: and tcp)');
  assert.equal(validate.call(rule, 'lan_in', 'arp;arp'), true);
  // Fixed: saved.
  s.values.lan_in.rule = ['arp;arp'];
  await rule.parse('lan_in');
  assert.deepEqual(parsedBy, ['rule@lan_in']);
  // A disabled section is saved unchecked; an empty one is refused unless it names a filter file.
  const calls = rpc.calls.length;
  s.values.off = { disabled: '1', ifname: 'eth1', rule: ['bad;ip and and tcp'] };
  await rule.parse('off');
  s.values.file = { disabled: '0', ifname: 'eth1', filterfile: '/etc/bpfcountd.filters' };
  await rule.parse('file');
  assert.equal(rpc.calls.length, calls, 'no check for a disabled section or one without rules');
  assert.deepEqual(parsedBy, ['rule@lan_in', 'rule@off', 'rule@file']);
  s.values.empty = { disabled: '0', ifname: 'eth1' };
  await assert.rejects(rule.parse('empty'), /Section "empty" needs a filter file or at least one rule\./);
  assert.deepEqual(notes, []);
});

test('config view: with the daemon stopped the page says so, and saving still works (the daemon checks on start)', async () => {
  maps.length = 0;
  parsedBy.length = 0;
  const notes: Notification[] = [];
  const rpc = fakeRpc({ check: new Error('RPC call to bpfcountd/check failed with error -32000: Object not found\n    at x (rpc.js:82:7)') });
  const view = loadConfig(rpc, notes);
  const page = text(await view.render(await view.load()));
  assert.ok(page.includes(STARTS), page);
  const s = maps[0].sections[0];
  const rule = s.options.find((o) => o.option === 'rule');
  assert.ok(rule);
  s.values.a = { disabled: '0', ifname: 'eth0', rule: ['arp;arp'] };
  s.values.b = { disabled: '0', ifname: 'eth1', rule: ['ip;ip'] };
  await rule.parse('a');
  await rule.parse('b');
  assert.deepEqual(parsedBy, ['rule@a', 'rule@b']);
  assert.equal(notes.length, 1, 'said once, not per section');
  assert.equal(notes[0].kind, 'warning');
  assert.ok(notes[0].text.startsWith(`The rules could not be checked: ${STARTS}`), notes[0].text);
  // A saved configuration the daemon refuses is shown on top of the form.
  maps.length = 0;
  const refused = loadConfig(fakeRpc({ check: { config: { ok: false, error: '/etc/config/bpfcountd:7: invalid interface name \'a b\'' } } }), notes);
  assert.ok(text(await refused.render(await refused.load()))
    .includes('The saved configuration has an error, so a reload does not apply it (the rules running now keep counting): /etc/config/bpfcountd:7: invalid interface name \'a b\''));
});

/* ---------- menu and ACL ---------- */

test('menu entries and rpcd ACL: status for readers, reload and configuration for writers', () => {
  type Entry = { title: string; action: { type: string; path: string }; depends: { acl: string[]; uci?: Record<string, boolean> } };
  const menu = JSON.parse(fs.readFileSync(path.join(APP, 'root/usr/share/luci/menu.d/luci-app-bpfcountd.json'), 'utf8')) as Record<string, Entry>;
  assert.deepEqual(Object.keys(menu).sort(), ['admin/services/bpfcountd', 'admin/status/bpfcountd']);
  assert.deepEqual(menu['admin/status/bpfcountd'].action, { type: 'view', path: 'bpfcountd/status' });
  assert.deepEqual(menu['admin/services/bpfcountd'].action, { type: 'view', path: 'bpfcountd/config' });
  for (const entry of Object.values(menu)) {
    assert.ok(fs.existsSync(path.join(RESOURCES, 'view', `${entry.action.path}.js`)), entry.action.path);
    assert.deepEqual(entry.depends.acl, ['luci-app-bpfcountd'], 'shown only to holders of the ACL group');
  }
  assert.deepEqual(menu['admin/services/bpfcountd'].depends.uci, { bpfcountd: true });
  const acl = JSON.parse(fs.readFileSync(path.join(APP, 'root/usr/share/rpcd/acl.d/luci-app-bpfcountd.json'), 'utf8')) as
    Record<string, { read: { ubus: Record<string, string[]>; uci: string[] }; write: { ubus: Record<string, string[]>; uci: string[] } }>;
  assert.deepEqual(Object.keys(acl), ['luci-app-bpfcountd']);
  const grant = acl['luci-app-bpfcountd'];
  // Readers: counters, rules and checks, which change nothing. Writers: reload and the config.
  assert.deepEqual(grant.read.ubus, { [UBUS_OBJECT_NAME]: ['stats', 'rules', 'check'] });
  assert.deepEqual(grant.write.ubus, { [UBUS_OBJECT_NAME]: ['reload'] });
  assert.deepEqual(grant.read.uci, ['bpfcountd']);
  assert.deepEqual(grant.write.uci, ['bpfcountd']);
  const unused = {} as DaemonControl;
  const methods = bpfcountdObject(unused).methods.map(([m]) => m).sort();
  assert.deepEqual([...grant.read.ubus.bpfcountd, ...grant.write.ubus.bpfcountd].sort(), methods, 'every method granted, none unknown');
  // The package's own group for rpcd users grants the same split.
  const own = JSON.parse(fs.readFileSync(path.join(ROOT, 'files/usr/share/rpcd/acl.d/bpfcountd.json'), 'utf8')) as typeof acl;
  assert.deepEqual(own.bpfcountd.read.ubus, { bpfcountd: ['stats', 'rules', 'check'] });
  assert.deepEqual(own.bpfcountd.write.ubus, { bpfcountd: ['reload'] });
});
