/**
 * `bpfcountd --query`: reads counter sockets as any client does, for routers
 * whose busybox nc cannot open a unix socket. A target is a section name
 * (its default socket), a socket path, or nothing (every socket in the
 * socket directory).
 */
import { basename, join } from 'node:path';
import { files } from '../files';
import { loadNet } from '../net-on-demand';
import type { CounterLine } from './text-socket';

export interface QueriedSocket { section: string; path: string; text: string }

/** The sockets a target names; throws a one-line message when there are none. */
export function querySockets(target: string, socketDir: string): { section: string; path: string }[] {
  if (target !== '') {
    const path = target.includes('/') || target.endsWith('.sock') ? target : join(socketDir, `${target}.sock`);
    return [{ section: basename(path).replace(/\.sock$/, ''), path }];
  }
  let names: string[];
  try {
    names = files().readDir(socketDir).filter((n) => n.endsWith('.sock')).sort();
  } catch {
    names = [];
  }
  if (names.length === 0) throw new Error(`no counter sockets in ${socketDir}: is the service running? (/etc/init.d/bpfcountd start)`);
  return names.map((n) => ({ section: n.slice(0, -'.sock'.length), path: join(socketDir, n) }));
}

/** Everything the socket sends before it closes. */
export function readSocket(path: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const client = loadNet().connect(path);
    client.setTimeout(timeoutMs, () => client.destroy(new Error('no answer')));
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.on('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot read ${path}: ${err.code ?? err.message}`)));
    client.on('close', (hadError) => { if (!hadError) resolve(Buffer.concat(chunks).toString('utf8')); });
  });
}

/** `<id>:<bytes>:<packets>` lines, parsed from the right (ids may hold ':'); '%' lines are comments. */
export function parseCounterText(text: string, where: string): CounterLine[] {
  const out: CounterLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('%')) continue;
    const m = /^(.*):(\d+):(\d+)$/.exec(line);
    if (!m) throw new Error(`${where}: not a counter line: ${JSON.stringify(line.slice(0, 80))}`);
    out.push({ id: m[1], bytes: Number(m[2]), packets: Number(m[3]) });
  }
  return out;
}

/**
 * Text: a named socket's lines as they came; every socket (no target) each after a '% <section>' line,
 * which line-parsing consumers skip. JSON: section -> rule -> counts.
 */
export function formatQuery(results: readonly QueriedSocket[], json: boolean, allSockets: boolean): string {
  if (json) {
    // No prototype: a rule id or section may be named __proto__, which a plain {} would swallow.
    const out = Object.create(null) as Record<string, Record<string, { bytes: number; packets: number }>>;
    for (const r of results) {
      const rules = Object.create(null) as Record<string, { bytes: number; packets: number }>;
      for (const line of parseCounterText(r.text, r.path)) rules[line.id] = { bytes: line.bytes, packets: line.packets };
      out[r.section] = rules;
    }
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  if (!allSockets) return results.map((r) => r.text).join('');
  return results.map((r) => `% ${r.section}\n${r.text}`).join('');
}
