/**
 * Worker thread for the textfile test: rewrites a metrics textfile as fast as
 * it can, generation after generation, while the test thread reads it in a
 * tight loop. `atomic` uses the daemon's writer; otherwise the file is
 * rewritten in place (what the test must be able to catch).
 */
import { writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { MetricsFormatter } from '../../src/outputs/metrics';
import { MetricsTextfile } from '../../src/outputs/metrics-textfile';
import type { StatsReply } from '../../src/service/model';

export interface WriterData {
  path: string;
  rules: number;
  atomic: boolean;
}

const data = workerData as WriterData;
let generation = 0;

/** Every counter of generation g is g (packets) and 100 g (bytes): a reader can tell generations apart. */
function stats(): StatsReply {
  const g = generation;
  return {
    inst: {
      interface: 'eth0', prefilter: '', state: 'running', socket: '/s', drops: { received: g, dropped: 0, ifdropped: 0 },
      rules: Array.from({ length: data.rules }, (_, i) => ({ id: `rule-${i}`, bytes: 100 * g, packets: g, bytes_per_second: 0, packets_per_second: 0 })),
    },
  };
}

const atomic = new MetricsTextfile({ path: data.path, intervalMs: 1000, control: { stats }, log: (m) => parentPort?.postMessage({ log: m }) });
const formatter = new MetricsFormatter();
let running = true;
parentPort?.on('message', (m: unknown) => {
  if (m === 'stop') running = false;
});

function step(): void {
  if (!running) {
    if (data.atomic) atomic.stop();
    parentPort?.postMessage({ done: generation });
    return;
  }
  generation++;
  if (data.atomic) atomic.write();
  else writeFileSync(data.path, formatter.format(stats()));
  setImmediate(step);
}
step();
