/**
 * The daemon's metrics outputs as configured now: the listener and the
 * textfile, each (re)started only when its own settings change, so a reload
 * that leaves them alone does not interrupt a scrape or rewrite a file.
 */
import { formatListenAddress, type ListenAddress } from '../config/metrics-options';
import type { DaemonControl } from '../service/model';
import { MetricsServer } from './metrics-http';
import { MetricsTextfile } from './metrics-textfile';

export interface MetricsSettings {
  listen?: ListenAddress;
  textfile?: string;
  intervalSeconds: number;
}

export class MetricsOutputs {
  private server?: MetricsServer;
  private listenKey = '';
  private textfile?: MetricsTextfile;
  private textfileKey = '';
  /** apply() calls run one after another. */
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly control: Pick<DaemonControl, 'stats'>, private readonly log: (message: string) => void) {}

  /** Rejects when the listener cannot bind (the listener is then off); the textfile never fails here. */
  apply(settings: MetricsSettings): Promise<void> {
    const next = this.applying.then(() => this.applyNow(settings));
    this.applying = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
    this.listenKey = '';
    this.textfile?.stop();
    this.textfile = undefined;
    this.textfileKey = '';
  }

  private async applyNow(settings: MetricsSettings): Promise<void> {
    const textfileKey = settings.textfile === undefined ? '' : `${settings.textfile} ${settings.intervalSeconds}`;
    if (textfileKey !== this.textfileKey) {
      this.textfile?.stop();
      this.textfile = undefined;
      this.textfileKey = textfileKey;
      if (settings.textfile !== undefined) {
        this.textfile = new MetricsTextfile({ path: settings.textfile, intervalMs: settings.intervalSeconds * 1000, control: this.control, log: this.log });
        this.textfile.start();
        this.log(`metrics written to ${settings.textfile} every ${settings.intervalSeconds} s`);
      }
    }
    const listenKey = settings.listen === undefined ? '' : formatListenAddress(settings.listen);
    if (listenKey === this.listenKey) return;
    // The old one goes first: the new address may be the same port on another host.
    this.server?.close();
    this.server = undefined;
    this.listenKey = listenKey;
    if (settings.listen === undefined) return;
    const server = new MetricsServer(this.control);
    try {
      const bound = await server.listen(settings.listen);
      this.server = server;
      this.log(`metrics at http://${formatListenAddress(bound)}/metrics and /stats.json`);
    } catch (err) {
      server.close();
      this.listenKey = ''; // the next apply tries again
      throw new Error(`metrics listener ${listenKey}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
