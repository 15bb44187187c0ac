/**
 * The metrics listener: GET or HEAD /metrics (Prometheus text) and
 * /stats.json (the ubus `stats` reply as JSON). Anything else: 404, or 405
 * for other methods. Off unless a listen address is configured.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/metrics-options';
import type { DaemonControl } from '../service/model';
import { METRICS_CONTENT_TYPE, MetricsFormatter } from './metrics';

/** A client that sends no complete request within this long is dropped. */
const REQUEST_TIMEOUT_MS = 10_000;

export class MetricsServer {
  private server?: Server;
  private readonly formatter = new MetricsFormatter();

  constructor(private readonly control: Pick<DaemonControl, 'stats'>) {}

  /** Resolves with the address actually bound. */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    // Loaded only when metrics are served: Node's HTTP modules cost seconds of start-up on a router CPU.
    const { createServer } = require('node:http') as typeof import('node:http');
    const server = createServer((req, res) => this.answer(req, res));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections?.();
    this.server = undefined;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    let body: string;
    let type: string;
    if (path === '/metrics') {
      type = METRICS_CONTENT_TYPE;
      body = req.method === 'GET' || req.method === 'HEAD' ? this.formatter.format(this.control.stats()) : '';
    } else if (path === '/stats.json') {
      type = 'application/json';
      body = req.method === 'GET' || req.method === 'HEAD' ? `${JSON.stringify(this.control.stats())}\n` : '';
    } else {
      return send(res, 404, 'text/plain; charset=utf-8', 'not found: the paths are /metrics and /stats.json\n', req.method === 'HEAD');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', false);
    }
    send(res, 200, type, body, req.method === 'HEAD');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}
