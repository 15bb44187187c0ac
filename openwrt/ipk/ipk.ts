/**
 * Builds one OpenWrt .ipk the way OpenWrt's ipkg-build lays it out: a gzip'd
 * tar of ./debian-binary, ./control.tar.gz and ./data.tar.gz (opkg refuses the
 * Debian `ar` layout). Same input, same bytes: fixed timestamps, root owner,
 * sorted entries, gzip without a name or time.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { PackageSpec } from './contents';
import { tar, type TarEntry } from './tar';

export interface BuiltPackage { fileName: string; bytes: Buffer }

export function buildIpk(spec: PackageSpec, root: string, mtime: number): BuiltPackage {
  const data = dataEntries(spec, root);
  const installedSize = data.reduce((sum, e) => sum + (e.data?.length ?? 0), 0);
  const control: TarEntry[] = [
    { name: './', mode: 0o755 },
    { name: './control', mode: 0o644, data: Buffer.from(controlText(spec, installedSize)) },
  ];
  const conffiles = spec.files.filter((f) => f.conffile).map((f) => f.to);
  if (conffiles.length > 0) control.push({ name: './conffiles', mode: 0o644, data: Buffer.from(conffiles.join('\n') + '\n') });
  if (spec.postinst) control.push({ name: './postinst', mode: 0o755, data: Buffer.from(spec.postinst) });
  if (spec.prerm) control.push({ name: './prerm', mode: 0o755, data: Buffer.from(spec.prerm) });
  const outer = tar([
    { name: './debian-binary', mode: 0o644, data: Buffer.from('2.0\n') },
    { name: './data.tar.gz', mode: 0o644, data: gzip(tar(data, mtime)) },
    { name: './control.tar.gz', mode: 0o644, data: gzip(tar(control, mtime)) },
  ], mtime);
  return { fileName: `${spec.name}_${spec.version}_${spec.architecture}.ipk`, bytes: gzip(outer) };
}

export function controlText(spec: PackageSpec, installedSize: number): string {
  const fields: [string, string][] = [
    ['Package', spec.name],
    ['Version', spec.version],
    ['Depends', spec.depends.join(', ')],
    ['Source', `feeds/bpfcountd/${spec.name}`],
    ['SourceName', spec.name],
    ['License', 'MIT'],
    ['Section', spec.section],
    ['Maintainer', 'bpfcountd developers'],
    ['Architecture', spec.architecture],
    ['Installed-Size', String(installedSize)],
  ];
  if (spec.requireUser !== undefined) fields.push(['Require-User', spec.requireUser]);
  const [first, ...rest] = spec.description.split('\n');
  return fields.map(([k, v]) => `${k}: ${v}\n`).join('') + `Description: ${first}\n` + rest.map((l) => ` ${l}\n`).join('');
}

/** The files under their router paths, each parent directory listed once before them, sorted. */
function dataEntries(spec: PackageSpec, root: string): TarEntry[] {
  const dirs = new Set<string>(['./']);
  const files: TarEntry[] = [];
  for (const f of spec.files) {
    const source = join(root, f.from);
    if (!statSync(source).isFile()) throw new Error(`${spec.name}: ${f.from} is not a file`);
    const parts = f.to.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`./${parts.slice(0, i).join('/')}/`);
    files.push({ name: `.${f.to}`, mode: f.mode, data: readFileSync(source) });
  }
  const entries: TarEntry[] = [...[...dirs].map((name): TarEntry => ({ name, mode: 0o755 })), ...files];
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function gzip(data: Buffer): Buffer {
  // zlib's gzip header carries no file name and a zero time: only the content decides the bytes.
  return gzipSync(data, { level: 9 });
}
