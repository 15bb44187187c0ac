/**
 * The metrics outputs across reloads: an output restarts only when its own
 * settings change; a listener that cannot bind is reported and retried at
 * the next apply; close() ends both.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MetricsOutputs } from '../../src/outputs/metrics-outputs';
import type { StatsReply } from '../../src/service/model';

const STATS: StatsReply = {
  x: { interface: 'eth0', prefilter: '', state: 'running', socket: '/s', drops: { received: 0, dropped: 0, ifdropped: 0 },
    rules: [{ id: 'r', bytes: 10, packets: 1, bytes_per_second: 0, packets_per_second: 0 }] },
};

function status(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/metrics', timeout: 3000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A port nothing listens on right now (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('metrics outputs across reloads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfc-outputs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('restarts only what changed, moves listener and textfile, closes both', async (t) => {
    const logs: string[] = [];
    const outputs = new MetricsOutputs({ stats: () => STATS }, (m) => logs.push(m));
    t.after(() => outputs.close());
    const [p1, p2] = [await freePort(), await freePort()];
    const f1 = join(dir, 'a.prom');
    const f2 = join(dir, 'b.prom');
    await outputs.apply({ listen: { host: '127.0.0.1', port: p1 }, textfile: f1, intervalSeconds: 60 });
    assert.equal(await status(p1), 200);
    assert.match(readFileSync(f1, 'utf8'), /^bpfcountd_packets_total\{instance="x",interface="eth0",rule="r"\} 1$/m);
    assert.deepEqual(logs, [`metrics written to ${f1} every 60 s`, `metrics at http://127.0.0.1:${p1}/metrics and /stats.json`]);

    await outputs.apply({ listen: { host: '127.0.0.1', port: p1 }, textfile: f1, intervalSeconds: 60 });
    assert.equal(logs.length, 2, 'unchanged settings: nothing restarted');

    await outputs.apply({ listen: { host: '127.0.0.1', port: p2 }, textfile: f2, intervalSeconds: 60 });
    assert.equal(await status(p1), 'ECONNREFUSED');
    assert.equal(await status(p2), 200);
    assert.equal(existsSync(f1), false, 'the old textfile is removed');
    assert.equal(existsSync(f2), true);

    await outputs.apply({ listen: { host: '127.0.0.1', port: p2 }, textfile: f2, intervalSeconds: 30 });
    assert.equal(logs.at(-1), `metrics written to ${f2} every 30 s`);

    await outputs.apply({ intervalSeconds: 15 });
    assert.equal(await status(p2), 'ECONNREFUSED');
    assert.equal(existsSync(f2), false);

    await outputs.apply({ listen: { host: '127.0.0.1', port: p1 }, textfile: f1, intervalSeconds: 60 });
    outputs.close();
    assert.equal(await status(p1), 'ECONNREFUSED');
    assert.equal(existsSync(f1), false);
  });

  it('a listener that cannot bind rejects; the same settings are tried again next time', async (t) => {
    const blocker = createServer();
    t.after(() => blocker.close());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const outputs = new MetricsOutputs({ stats: () => STATS }, () => undefined);
    t.after(() => outputs.close());
    await assert.rejects(outputs.apply({ listen: { host: '127.0.0.1', port }, intervalSeconds: 15 }), new RegExp(`metrics listener 127.0.0.1:${port}: .*EADDRINUSE`));
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await outputs.apply({ listen: { host: '127.0.0.1', port }, intervalSeconds: 15 });
    assert.equal(await status(port), 200);
    outputs.close();
  });
});
