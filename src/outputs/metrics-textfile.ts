/**
 * The metrics as a file for node-exporter's textfile collector, rewritten
 * every interval. Written beside the target under a name the collector
 * skips (it reads only *.prom), then renamed over it: a reader sees the old
 * file or the new one, never a part.
 */
import { basename, dirname, join } from 'node:path';
import { files, removeIfPresent } from '../files';
import type { DaemonControl } from '../service/model';
import { MetricsFormatter } from './metrics';

export interface TextfileOptions {
  path: string;
  intervalMs: number;
  control: Pick<DaemonControl, 'stats'>;
  log: (message: string) => void;
}

export class MetricsTextfile {
  private timer?: NodeJS.Timeout;
  private readonly formatter = new MetricsFormatter();
  private readonly tmpPath: string;
  private lastError?: string;

  constructor(private readonly options: TextfileOptions) {
    this.tmpPath = join(dirname(options.path), `.${basename(options.path)}.${process.pid}.tmp`);
  }

  /** Writes now, then every interval. */
  start(): void {
    this.write();
    this.timer = setInterval(() => this.write(), this.options.intervalMs);
  }

  /** Stops and removes the file: counters of a stopped daemon are not current. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    removeIfPresent(this.tmpPath);
    removeIfPresent(this.options.path);
  }

  /** Never throws: a failed write is logged (once until it succeeds or fails otherwise) and retried next interval. */
  write(): void {
    try {
      files().writeFile(this.tmpPath, this.formatter.format(this.options.control.stats()));
      files().rename(this.tmpPath, this.options.path);
      this.lastError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) this.options.log(`metrics textfile ${this.options.path}: ${message}`);
      this.lastError = message;
      try {
        removeIfPresent(this.tmpPath);
      } catch {
        // the directory itself is the problem: already logged
      }
    }
  }
}
