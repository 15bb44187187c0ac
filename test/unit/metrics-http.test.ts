/**
 * The metrics listener on loopback over a stand-in for the daemon: what
 * /metrics and /stats.json answer, HEAD, unknown paths and methods, listen
 * addresses.
 */
import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseListenAddress, type ListenAddress } from '../../src/config/metrics-options';
import { MetricsServer } from '../../src/outputs/metrics-http';
import type { StatsReply } from '../../src/service/model';
import { parseExposition, promtoolCheck, sampleOf } from '../support/exposition';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function fetchText(a: ListenAddress, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: a.host, port: a.port, method, path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('metrics listener', () => {
  let stats: StatsReply = {};
  let scrapes = 0;
  const server = new MetricsServer({ stats: () => { scrapes++; return stats; } });
  let address: ListenAddress = { host: '', port: 0 };

  before(async () => {
    address = await server.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  it('binds the port asked for, or a free one for port 0', () => {
    assert.equal(address.host, '127.0.0.1');
    assert.ok(address.port > 0);
  });

  it('GET /metrics: the current counters, valid for promtool, read on every scrape', async () => {
    for (const packets of [3, 2 ** 33 + 5]) {
      stats = {
        wan: {
          interface: 'eth0', prefilter: 'inbound', state: 'running', socket: '/s', drops: { received: packets, dropped: 4, ifdropped: 5 },
          rules: [{ id: 'arp', bytes: packets * 60, packets, bytes_per_second: 0, packets_per_second: 0 }],
        },
      };
      const before = scrapes;
      const r = await fetchText(address, 'GET', '/metrics');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      assert.equal(scrapes, before + 1);
      assert.equal(promtoolCheck(r.body).status, 0);
      const parsed = parseExposition(r.body);
      assert.equal(sampleOf(parsed, 'bpfcountd_packets_total', { instance: 'wan', interface: 'eth0', rule: 'arp' }).value, String(packets));
      assert.equal(sampleOf(parsed, 'bpfcountd_bytes_total', { rule: 'arp' }).value, String(packets * 60));
      assert.equal(sampleOf(parsed, 'bpfcountd_kernel_dropped_packets_total', { instance: 'wan' }).value, '4');
      assert.equal(sampleOf(parsed, 'bpfcountd_interface_dropped_packets_total', { instance: 'wan' }).value, '5');
    }
    const withQuery = await fetchText(address, 'GET', '/metrics?foo=bar');
    assert.equal(withQuery.status, 200);
    assert.match(withQuery.body, /^bpfcountd_packets_total\{instance="wan",interface="eth0",rule="arp"\} 8589934597$/m);
  });

  it('HEAD /metrics: the headers of GET, no body', async () => {
    const get = await fetchText(address, 'GET', '/metrics');
    const head = await fetchText(address, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)));
  });

  it('GET /stats.json: the stats reply as JSON', async () => {
    const r = await fetchText(address, 'GET', '/stats.json');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), stats);
  });

  it('other paths: 404; other methods: 405 with Allow', async () => {
    for (const path of ['/', '/metrics/', '/metricsx', '/stats', '/favicon.ico', '/../metrics']) {
      assert.equal((await fetchText(address, 'GET', path)).status, 404, path);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetchText(address, method, '/metrics');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('a port in use is an error, not a silent second listener', async () => {
    const other = new MetricsServer({ stats: () => ({}) });
    await assert.rejects(other.listen(address), /EADDRINUSE/);
    other.close();
  });
});

describe('listen addresses', () => {
  it('host:port and [v6]:port', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9102'), { host: '127.0.0.1', port: 9102 });
    assert.deepEqual(parseListenAddress('[::1]:9102'), { host: '::1', port: 9102 });
    assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseListenAddress('0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 });
  });
  it('anything else is refused with a reason', () => {
    for (const bad of ['9102', ':9102', '127.0.0.1', '127.0.0.1:', '::1:9102', '127.0.0.1:65536', '127.0.0.1:x', 'a b:1', '[::1]9102']) {
      assert.equal(typeof parseListenAddress(bad), 'string', bad);
    }
  });
});
