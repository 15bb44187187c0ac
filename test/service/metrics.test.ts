/**
 * The metrics outputs of a running daemon, compared with its own unix socket
 * (the C original's protocol) at moments when the counts are stable:
 *   - GET /metrics: promtool accepts it; every rule's packets and bytes equal
 *     the socket's, under the labels its id stands for (label lists and
 *     hostile plain ids, expected labels written out here);
 *   - /stats.json: the same numbers in the ubus `stats` shape;
 *   - a real Prometheus server scraping the daemon: its query API returns
 *     the socket's numbers;
 *   - the textfile: read in a tight loop while traffic changes the counts,
 *     always whole; equal to the socket once traffic stopped; gone at exit;
 *   - a malformed label list: refused at start (one line, file:line, exit 1)
 *     and on reload (the running rules keep counting and serving).
 * Daemon, Prometheus and traffic live in namespaces the test creates.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, type Daemon } from '../support/daemon';
import { parseExposition, promtoolCheck, sampleOf, type Exposition } from '../support/exposition';
import { ALL_ID } from '../support/live-count';
import { replayAsync, run, type VethLink } from '../support/netns';
import { DAEMON, TEST_PCAPS } from '../support/paths';
import { nsGet, queryVector, startPrometheus, type PrometheusServer } from '../support/prometheus';
import { requireLiveEnvironment } from '../support/root';
import {
  addVeth, createServiceNet, destroyServiceNet, NO_UBUS, settledCounts, startServiceDaemon, uciText,
  waitForSockets, waitForLog, writeAtomically, type ServiceNet,
} from '../support/service';
import { readCounts, type CountLine } from '../support/socket-client';

interface MetricRule {
  id: string;
  expr: string;
  /** The rule labels its id must become, written out by hand. */
  labels: Record<string, string>;
}

const RULES: readonly MetricRule[] = [
  { id: 'type="arp",subtype="request"', expr: 'arp[6:2] == 1', labels: { type: 'arp', subtype: 'request' } },
  { id: 'type="arp",subtype="reply"', expr: 'arp[6:2] == 2', labels: { type: 'arp', subtype: 'reply' } },
  { id: 'proto="udp",note="a\\\\b \\"q\\" \\n}{"', expr: 'udp', labels: { proto: 'udp', note: 'a\\b "q" \n}{' } },
  { id: 'tcp "quoted" \\ back}{,=#', expr: 'tcp', labels: { rule: 'tcp "quoted" \\ back}{,=#' } },
  { id: 'bcast:1', expr: 'ether broadcast', labels: { rule: 'bcast:1' } },
  { id: ALL_ID, expr: 'greater 0', labels: { rule: ALL_ID } },
];
const SECTION = 'wan';
const IFNAME = 'eth0';
const cap = (name: string): string => join(TEST_PCAPS, name);

function labelsOf(id: string): Record<string, string> {
  const rule = RULES.find((r) => r.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule.labels;
}

/** Every rule of the socket answer found in a scrape with its exact numbers; the socket's answer must not be trivial. */
function assertScrapeEqualsSocket(e: Exposition, socket: readonly CountLine[], where: string, instance = SECTION): void {
  assert.equal(socket.length, RULES.length);
  assert.ok(socket.every((l) => l.packets > 0), `${where}: every rule should have counted something: ${JSON.stringify(socket)}`);
  for (const line of socket) {
    const labels = { instance, interface: IFNAME, ...labelsOf(line.id) };
    const packets = sampleOf(e, 'bpfcountd_packets_total', labels);
    assert.deepEqual(packets.labels, labels, `${where}: labels of '${line.id}'`);
    assert.equal(packets.value, String(line.packets), `${where}: packets of '${line.id}'`);
    assert.equal(sampleOf(e, 'bpfcountd_bytes_total', labels).value, String(line.bytes), `${where}: bytes of '${line.id}'`);
  }
  assert.equal(e.samples.filter((s) => s.name === 'bpfcountd_packets_total').length, RULES.length);
}

describe('service: metrics (Prometheus text, JSON, textfile, a real Prometheus)', () => {
  let net: ServiceNet | undefined;
  let dir = '';
  let daemon: Daemon | undefined;
  let prometheus: PrometheusServer | undefined;
  let link: VethLink;
  let metricsUrl = '';
  let uci = '';
  const sock = (): string => join(dir, `${SECTION}.sock`);
  let textfile = (): string => join(dir, 'textfile', 'bpfcountd.prom');

  before(() => {
    requireLiveEnvironment();
    dir = mkdtempSync(join(tmpdir(), 'bpfc-svc-metrics-'));
    net = createServiceNet();
    run(['ip', '-n', net.daemonNs, 'link', 'set', 'dev', 'lo', 'up']);
    link = addVeth(net, IFNAME, 'peer0', '02:00:5e:10:00:07');
    run(['mkdir', '-p', join(dir, 'textfile')]);
    uci = join(dir, 'bpfcountd');
  });
  after(async () => {
    await prometheus?.stop();
    await daemon?.kill();
    if (net) destroyServiceNet(net);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sectionText = (rules: readonly { id: string; expr: string }[], listen = '127.0.0.1:0'): string => uciText([{
    name: SECTION,
    options: {
      ifname: IFNAME, socket: sock(), buffersize: '1048576',
      metrics_listen: listen, metrics_textfile: textfile(), metrics_interval: '0.2',
    },
    rules,
  }]);

  test('a malformed label list refuses the start: one line naming file:line, exit 1', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, sectionText([...RULES.slice(0, 2), { id: 'type="arp",subtype=request', expr: 'arp' }]));
    const r = spawnSync('ip', ['netns', 'exec', (net as ServiceNet).daemonNs, process.execPath, DAEMON, '-c', bad, '--runtime-dir', join(dir, 'rt'), NO_UBUS],
      { encoding: 'utf8', timeout: 30_000 });
    const line = readFileSync(bad, 'utf8').split('\n').findIndex((l) => l.includes('subtype=request')) + 1;
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `${bad}:${line}: rule id 'type="arp",subtype=request' is not a valid label list: expected '="' after label name 'subtype'\n`);
    assert.equal(existsSync(sock()), false);
  });

  test('GET /metrics equals the socket after traffic; promtool accepts it', async () => {
    writeFileSync(uci, sectionText(RULES));
    daemon = startServiceDaemon(net as ServiceNet, ['-c', uci, '--runtime-dir', join(dir, 'runtime'), NO_UBUS], sock());
    await waitForSockets(daemon, [sock()]);
    const listening = /metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(await waitForLog(daemon, /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/));
    metricsUrl = `${(listening as RegExpExecArray)[1]}/metrics`;
    // The socket exists once its capture counts: replayed frames count from the first one.

    // ARP requests and replies, DHCP/UDP, broadcasts (eapon1), TCP (bgp), each more than once.
    const sent = await replayAsync(link, cap('eapon1.pcap'), { loop: 3 }) + await replayAsync(link, cap('bgp-4byte-asn.pcap'), { loop: 2 });
    assert.equal(sent, 3 * 114 + 2 * 91);
    const settled = await settledCounts(daemon, sock(), sent);

    const reply = await nsGet((net as ServiceNet).daemonNs, metricsUrl);
    const after = await readCounts(sock());
    assert.deepEqual(after, settled, 'the counts moved during the scrape');
    assert.equal(reply.status, 200);
    assert.equal(reply.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const check = promtoolCheck(reply.body);
    assert.equal(check.status, 0, check.output);
    const e = parseExposition(reply.body);
    assertScrapeEqualsSocket(e, settled, '/metrics');
    assert.equal(sampleOf(e, 'bpfcountd_packets_total', { rule: ALL_ID }).value, String(sent));
    const base = { instance: SECTION, interface: IFNAME };
    assert.equal(sampleOf(e, 'bpfcountd_instance_state', { ...base, state: 'running' }).value, '1');
    assert.equal(sampleOf(e, 'bpfcountd_instance_state', { ...base, state: 'waiting' }).value, '0');
    // The shared capture saw every frame at least; nothing was dropped at this rate.
    assert.ok(Number(sampleOf(e, 'bpfcountd_received_packets_total', base).value) >= sent);
    assert.equal(sampleOf(e, 'bpfcountd_kernel_dropped_packets_total', base).value, '0');
    assert.equal(sampleOf(e, 'bpfcountd_interface_dropped_packets_total', base).value, '0');
  });

  test('GET /stats.json: the socket\'s numbers in the ubus stats shape', async () => {
    const socket = await readCounts(sock());
    const reply = await nsGet((net as ServiceNet).daemonNs, metricsUrl.replace(/\/metrics$/, '/stats.json'));
    assert.equal(reply.status, 200);
    const stats = JSON.parse(reply.body) as Record<string, { interface: string; state: string; rules: CountLine[] }>;
    assert.deepEqual(Object.keys(stats), [SECTION]);
    assert.equal(stats[SECTION].interface, IFNAME);
    assert.equal(stats[SECTION].state, 'running');
    assert.deepEqual(stats[SECTION].rules.map((r) => ({ id: r.id, bytes: r.bytes, packets: r.packets })), socket);
    assert.equal((await nsGet((net as ServiceNet).daemonNs, metricsUrl.replace(/\/metrics$/, '/'))).status, 404);
  });

  test('a Prometheus server scraping the daemon returns the socket\'s counters', async () => {
    const ns = (net as ServiceNet).daemonNs;
    const target = /^http:\/\/([^/]+)\/metrics$/.exec(metricsUrl)?.[1] as string;
    // The namespace is the test's own: any port is free there; random anyway.
    prometheus = startPrometheus(ns, join(dir, 'prometheus'), target, 20000 + Math.floor(Math.random() * 40000));
    const socket = await readCounts(sock());
    const deadline = Date.now() + 60_000;
    let packets: Awaited<ReturnType<typeof queryVector>> = [];
    let bytes: typeof packets = [];
    let lastError = '';
    while (Date.now() < deadline) {
      if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited: ${prometheus.log()}`);
      try {
        packets = await queryVector(ns, prometheus.port, 'bpfcountd_packets_total');
        bytes = await queryVector(ns, prometheus.port, 'bpfcountd_bytes_total');
        if (packets.length === RULES.length && bytes.length === RULES.length) break;
      } catch (err) {
        lastError = (err as Error).message; // not listening yet
      }
      await sleep(500);
    }
    assert.equal(packets.length, RULES.length, `series did not appear within 60 s (${lastError}) ${prometheus.log()}`);
    assert.deepEqual(await readCounts(sock()), socket, 'the counts moved while Prometheus scraped');
    for (const line of socket) {
      // Prometheus keeps the target's own `instance` label and files the daemon's as exported_instance (honor_labels: false).
      const labels = { __name__: 'bpfcountd_packets_total', job: 'bpfcountd', instance: target, exported_instance: SECTION, interface: IFNAME, ...labelsOf(line.id) };
      const p = packets.filter((s) => JSON.stringify(Object.entries(s.metric).sort()) === JSON.stringify(Object.entries(labels).sort()));
      assert.equal(p.length, 1, `series of '${line.id}': ${JSON.stringify(packets.map((s) => s.metric))}`);
      assert.equal(p[0].value[1], String(line.packets), `packets of '${line.id}'`);
      const b = bytes.filter((s) => JSON.stringify(Object.entries(s.metric).sort())
        === JSON.stringify(Object.entries({ ...labels, __name__: 'bpfcountd_bytes_total' }).sort()));
      assert.equal(b.length, 1);
      assert.equal(b[0].value[1], String(line.bytes), `bytes of '${line.id}'`);
    }
    const up = await queryVector(ns, prometheus.port, 'up{job="bpfcountd"}');
    assert.deepEqual(up.map((s) => s.value[1]), ['1']);
    await prometheus.stop();
  });

  test('the textfile is whole while traffic changes the counts, and equal to the socket once it stops', async () => {
    const d = daemon as Daemon;
    const before = (await readCounts(sock())).find((l) => l.id === ALL_ID)?.packets ?? 0;
    // About 3 s of traffic at 200 frames/s; the file is rewritten every 0.2 s.
    const replaying = replayAsync(link, cap('eapon1.pcap'), { loop: 6, pps: 200 });
    const seen = new Set<number>();
    let reads = 0;
    let last = 0;
    const end = Date.now() + 2500;
    // A tight loop: this process never yields while it reads.
    while (Date.now() < end) {
      const text = readFileSync(textfile(), 'utf8');
      reads++;
      const e = parseExposition(text);
      assert.equal(e.type.size, 6, 'every family in every read');
      assert.equal(e.samples.filter((s) => s.name === 'bpfcountd_bytes_total').length, RULES.length);
      const all = Number(sampleOf(e, 'bpfcountd_packets_total', { rule: ALL_ID }).value);
      assert.ok(all >= last, `_all went back from ${last} to ${all}`);
      last = all;
      seen.add(all);
    }
    const sent = await replaying;
    assert.ok(seen.size >= 5, `the reads saw only ${seen.size} different counts in ${reads} reads: they did not overlap the updates`);
    const settled = await settledCounts(d, sock(), before + sent);
    await sleep(600); // three intervals: the file has caught up
    const e = parseExposition(readFileSync(textfile(), 'utf8'));
    assert.equal(promtoolCheck(readFileSync(textfile(), 'utf8')).status, 0);
    assertScrapeEqualsSocket(e, settled, 'textfile');
    assert.deepEqual(await readCounts(sock()), settled);
  });

  test('a reload with a malformed label list is refused: the running rules keep counting and serving', async () => {
    const d = daemon as Daemon;
    const from = d.log.length;
    writeAtomically(uci, sectionText([...RULES, { id: 'new="1",new="2"', expr: 'ip' }]));
    process.kill(d.pid, 'SIGHUP');
    const log = await waitForLog(d, /reload refused/, from);
    assert.match(log, new RegExp(`reload refused, configuration unchanged: ${uci.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: rule id 'new="1",new="2"' is not a valid label list: label 'new' appears twice\\n`));
    const socket = await readCounts(sock());
    const e = parseExposition((await nsGet((net as ServiceNet).daemonNs, metricsUrl)).body);
    assertScrapeEqualsSocket(e, socket, 'after the refused reload');
  });

  test('a reload that changes metrics_listen and metrics_textfile moves both; counters stay', async () => {
    const d = daemon as Daemon;
    const ns = (net as ServiceNet).daemonNs;
    const oldUrl = metricsUrl;
    const oldTextfile = textfile();
    const socket = await readCounts(sock());
    const port = 20000 + Math.floor(Math.random() * 40000);
    textfile = (): string => join(dir, 'textfile', 'moved.prom');
    const from = d.log.length;
    writeAtomically(uci, sectionText(RULES, `127.0.0.1:${port}`));
    process.kill(d.pid, 'SIGHUP');
    await waitForLog(d, new RegExp(`metrics at http://127\\.0\\.0\\.1:${port}/metrics`), from);
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    await assert.rejects(nsGet(ns, oldUrl), /ECONNREFUSED/);
    assertScrapeEqualsSocket(parseExposition((await nsGet(ns, metricsUrl)).body), socket, 'moved listener');
    assert.equal(existsSync(oldTextfile), false);
    await sleep(600);
    assertScrapeEqualsSocket(parseExposition(readFileSync(textfile(), 'utf8')), socket, 'moved textfile');
    assert.deepEqual(await readCounts(sock()), socket);
  });

  test('SIGTERM: exit 0, the textfile is removed', async () => {
    const d = daemon as Daemon;
    const exit = await d.stop('SIGTERM', 10_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(existsSync(textfile()), false);
    assert.equal(spawnSync('ls', ['-A', join(dir, 'textfile')], { encoding: 'utf8' }).stdout, '');
  });

  test('single interface (-i): the --metrics-* flags; the instance is the interface', async () => {
    const rulesFile = join(dir, 'single.filters');
    writeFileSync(rulesFile, RULES.map((r) => `${r.id};${r.expr}\n`).join(''));
    const socket = join(dir, 'single.sock');
    const file = join(dir, 'textfile', 'single.prom');
    const d = startServiceDaemon(net as ServiceNet, ['-i', IFNAME, '-f', rulesFile, '-u', socket, '-b', '1048576',
      '--metrics-listen', '127.0.0.1:0', '--metrics-textfile', file, '--metrics-interval', '0.2'], socket);
    daemon = d;
    await waitForSockets(d, [socket]);
    const url = `${/metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(await waitForLog(d, /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/))?.[1]}`;
    // The socket exists once its capture counts: replayed frames count from the first one.
    const sent = await replayAsync(link, cap('eapon1.pcap')) + await replayAsync(link, cap('bgp-4byte-asn.pcap'));
    const settled = await settledCounts(d, socket, sent);
    const scrape = (await nsGet((net as ServiceNet).daemonNs, url)).body;
    assert.equal(promtoolCheck(scrape).status, 0);
    assertScrapeEqualsSocket(parseExposition(scrape), settled, '-i /metrics', IFNAME);
    await sleep(600);
    assertScrapeEqualsSocket(parseExposition(readFileSync(file, 'utf8')), settled, '-i textfile', IFNAME);
    assert.deepEqual(await readCounts(socket), settled);
    assert.deepEqual(await d.stop('SIGTERM', 10_000), { code: 0, signal: null });
    assert.equal(existsSync(file), false);
  });
});
