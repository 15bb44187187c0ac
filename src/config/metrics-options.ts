/**
 * The syntax of the metrics settings, shared by the command line
 * (--metrics-*) and UCI (`option metrics_*`). Parsers return a reason
 * instead of throwing: each caller reports it its own way.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `host:port`, `[v6 address]:port`; port 0 means any free port (the log
 * names the one chosen).
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.%a-zA-Z]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return `'${text}' is not <host>:<port> (e.g. 127.0.0.1:9102, [::1]:9102)`;
  const port = Number(m[3]);
  if (port > 65535) return `port ${m[3]} is out of range (0..65535)`;
  return { host: m[1] ?? m[2], port };
}

export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export const DEFAULT_METRICS_INTERVAL_S = 15;

/** Seconds between textfile writes. */
export function parseMetricsInterval(text: string): number | string {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < 0.1 || Number(text) > 86400) {
    return `'${text}' is not an interval in seconds (0.1..86400)`;
  }
  return Number(text);
}
