/**
 * HTTP inside a test namespace, and a real Prometheus server (Debian's
 * `prometheus` package) started there with a scrape config of the test's.
 * Loopback in a namespace the test created is the test's alone: nothing
 * else can scrape or answer on it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsync } from './netns';

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

/** Node's http client, run in the namespace (a test process cannot enter one itself). */
const GET_SCRIPT = `
const http = require('node:http');
const req = http.get(process.argv[1], { timeout: 10000 }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => process.stdout.write(JSON.stringify({
    status: res.statusCode, contentType: res.headers['content-type'] || '', body: Buffer.concat(chunks).toString('utf8'),
  })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => { process.stderr.write(String(err)); process.exit(1); });
`;

export async function nsGet(ns: string, url: string): Promise<HttpReply> {
  const out = await runAsync(['ip', 'netns', 'exec', ns, process.execPath, '-e', GET_SCRIPT, url]);
  return JSON.parse(out) as HttpReply;
}

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export interface PrometheusServer {
  port: number;
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts prometheus in `ns` on 127.0.0.1:<port>, scraping `target`
 * (host:port, path /metrics) every second; storage in `dir`.
 */
export function startPrometheus(ns: string, dir: string, target: string, port: number): PrometheusServer {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: bpfcountd',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n'));
  const child = spawn('ip', ['netns', 'exec', ns, 'prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { log += s; });
  const exited = new Promise<void>((resolve) => child.on('exit', () => {
    started.delete(child);
    resolve();
  }));
  return {
    port, child,
    log: () => log,
    stop: async () => {
      if (!started.has(child)) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query through Prometheus's HTTP API. */
export async function queryVector(ns: string, port: number, query: string): Promise<VectorSample[]> {
  const reply = await nsGet(ns, `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
  if (reply.status !== 200) throw new Error(`query ${query}: HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
  const parsed = JSON.parse(reply.body) as { status: string; data: { resultType: string; result: VectorSample[] } };
  if (parsed.status !== 'success' || parsed.data.resultType !== 'vector') throw new Error(`query ${query}: ${reply.body.slice(0, 200)}`);
  return parsed.data.result;
}
