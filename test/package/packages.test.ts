/**
 * `npm run package`: the .ipk files unpacked as opkg does (with the system's
 * tar and gzip, not our writer), their control data, scripts and modes; the
 * same bytes from the same input; the daemon run from an unpacked root; and
 * the feed Makefiles installing exactly what the packages ship.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openwrtArchitecture, packages, type PackageSpec } from '../../openwrt/ipk/contents';
import { buildIpk } from '../../openwrt/ipk/ipk';
import { expandRules } from '../../src/config/expand';
import { readFilterFile } from '../../src/config/filter-file';
import { oracleCounts, parseCounterLines } from '../offline/helpers';
import { REPO_ROOT, TEST_PCAPS } from '../support/paths';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PCAP_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'pcap', 'package.json'), 'utf8')) as { version: string }).version;
const SPECS = packages(VERSION, openwrtArchitecture(process.arch), PCAP_VERSION);
const EPOCH = '1700000000';

/** Runs `npm run package`'s program with a fixed time into a temporary directory; its .ipk files by package name. */
function packageAll(t: { after: (fn: () => void) => void }): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-dist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(REPO_ROOT, 'build', 'openwrt', 'ipk', 'main.js'), dir], { env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH }, stdio: 'pipe' });
  const out = new Map<string, string>();
  for (const spec of SPECS) out.set(spec.name, join(dir, `${spec.name}_${spec.version}_${spec.architecture}.ipk`));
  assert.deepEqual(readdirSync(dir).sort(), [...out.values()].map((p) => p.slice(dir.length + 1)).sort());
  return out;
}

interface Unpacked { dir: string; control: Map<string, string>; controlDir: string; dataDir: string; listing: string[]; dataListing: string[] }

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8' });
}

/** As opkg: the outer gzip'd tar, then control.tar.gz and data.tar.gz. */
function unpack(ipk: string): Unpacked {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-ipk-'));
  const listing = sh('tar', ['-tzf', ipk]).trim().split('\n');
  sh('tar', ['-xzf', ipk, '-C', dir]);
  const controlDir = join(dir, 'control'), dataDir = join(dir, 'data');
  mkdirSync(controlDir);
  mkdirSync(dataDir);
  sh('tar', ['-xzf', join(dir, 'control.tar.gz'), '-C', controlDir]);
  sh('tar', ['-xzf', join(dir, 'data.tar.gz'), '-C', dataDir]);
  const control = new Map<string, string>();
  let last = '';
  for (const line of readFileSync(join(controlDir, 'control'), 'utf8').split('\n')) {
    if (line.startsWith(' ')) { control.set(last, `${control.get(last)}\n${line.slice(1)}`); continue; }
    const m = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (m) { control.set(m[1], m[2]); last = m[1]; } else assert.equal(line, '', `control line: ${line}`);
  }
  const dataListing = sh('tar', ['-tvzf', join(dir, 'data.tar.gz')]).trim().split('\n');
  return { dir, control, controlDir, dataDir, listing, dataListing };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

test('packages: layout, control fields, conffiles, scripts and modes as opkg reads them', (t) => {
  const ipks = packageAll(t);
  assert.equal(ipks.size, 3);
  for (const spec of SPECS) {
    const u = unpack(ipks.get(spec.name) as string);
    t.after(() => rmSync(u.dir, { recursive: true, force: true }));
    assert.deepEqual(u.listing, ['./debian-binary', './data.tar.gz', './control.tar.gz'], spec.name);
    assert.equal(readFileSync(join(u.dir, 'debian-binary'), 'utf8'), '2.0\n');
    assert.equal(u.control.get('Package'), spec.name);
    assert.equal(u.control.get('Version'), spec.version);
    assert.match(spec.version, /^\d+\.\d+\.\d+-r\d+$/);
    assert.equal(u.control.get('Architecture'), spec.architecture);
    assert.equal(u.control.get('Depends'), spec.depends.join(', '));
    assert.equal(u.control.get('Require-User'), spec.requireUser, `${spec.name} Require-User`);
    assert.ok((u.control.get('Description') ?? '').length > 20);
    // Installed-Size: the bytes of the data files.
    const files = filesUnder(u.dataDir);
    assert.equal(Number(u.control.get('Installed-Size')), files.reduce((s, f) => s + statSync(f).size, 0));
    // Exactly the files the spec lists, with their contents and modes, owned by root.
    assert.deepEqual(files.map((f) => `/${relative(u.dataDir, f)}`).sort(), spec.files.map((f) => f.to).sort());
    for (const f of spec.files) {
      assert.ok(readFileSync(join(u.dataDir, f.to)).equals(readFileSync(join(REPO_ROOT, f.from))), `${spec.name}: ${f.to} differs from ${f.from}`);
      const line = u.dataListing.find((l) => l.endsWith(` .${f.to}`));
      assert.ok(line, `${f.to} not in data.tar.gz`);
      const want = f.mode === 0o755 ? '-rwxr-xr-x' : f.mode === 0o600 ? '-rw-------' : '-rw-r--r--';
      assert.ok(line.startsWith(`${want} root/root `), `${spec.name}: ${line}`);
    }
    for (const line of u.dataListing) assert.match(line, / root\/root /);
    // conffiles: the config files, nothing else.
    const conffiles = spec.files.filter((f) => f.conffile).map((f) => f.to);
    const listed = readdirSync(u.controlDir).includes('conffiles')
      ? readFileSync(join(u.controlDir, 'conffiles'), 'utf8').trim().split('\n') : [];
    assert.deepEqual(listed, conffiles);
    // Maintainer scripts: executable, valid for busybox sh, clean for shellcheck.
    for (const script of ['postinst', 'prerm']) {
      const path = join(u.controlDir, script);
      if (!readdirSync(u.controlDir).includes(script)) continue;
      assert.equal(statSync(path).mode & 0o777, 0o755, `${spec.name} ${script} mode`);
      const syntax = spawnSync('busybox', ['sh', '-n', path], { encoding: 'utf8' });
      assert.equal(syntax.status, 0, `${spec.name} ${script}: ${syntax.stderr}`);
      const lint = spawnSync('shellcheck', ['-s', 'sh', '-e', 'SC1091', path], { encoding: 'utf8' });
      assert.equal(lint.status, 0, `${spec.name} ${script}: ${lint.stdout}`);
    }
  }
  const bpfcountd = SPECS.find((s) => s.name === 'bpfcountd') as PackageSpec;
  assert.deepEqual(bpfcountd.files.filter((f) => f.conffile).map((f) => f.to), ['/etc/config/bpfcountd', '/etc/bpfcountd.filters']);
  assert.match(bpfcountd.postinst ?? '', /default_postinst/);
  assert.match(bpfcountd.prerm ?? '', /default_prerm/);
  assert.deepEqual(bpfcountd.depends.filter((d) => d === 'node' || d === 'node-pcap'), ['node', 'node-pcap']);
});

test('packages: same input, same bytes', (t) => {
  const first = new Map([...packageAll(t)].map(([name, path]) => [name, readFileSync(path)]));
  const again = new Map([...packageAll(t)].map(([name, path]) => [name, readFileSync(path)]));
  for (const [name, bytes] of first) assert.ok(bytes.equals(again.get(name) as Buffer), `${name} differs between two runs`);
  // In-process with the same time: the same bytes as the command's.
  for (const spec of SPECS) {
    assert.ok(buildIpk(spec, REPO_ROOT, Number(EPOCH)).bytes.equals(first.get(spec.name) as Buffer), spec.name);
  }
  // Another time changes the bytes: the timestamp is really written.
  assert.ok(!buildIpk(SPECS[0], REPO_ROOT, 1).bytes.equals(first.get(SPECS[0].name) as Buffer));
});

test('packages: the daemon runs from an unpacked root, finds the addon in /usr/lib/node, counts as libpcap', (t) => {
  const ipks = packageAll(t);
  const root = mkdtempSync(join(tmpdir(), 'bpfcountd-root-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const ipk of ipks.values()) {
    const u = unpack(ipk);
    sh('tar', ['-xzf', join(u.dir, 'data.tar.gz'), '-C', root]);
    rmSync(u.dir, { recursive: true, force: true });
  }
  const capture = join(TEST_PCAPS, 'eapon1.pcap');
  const mac = '00:0d:88:4f:25:91';
  const filters = join(root, 'etc', 'bpfcountd.filters');
  // Only the unpacked root on the module path: the repository's node_modules is not reachable from it.
  const run = spawnSync(process.execPath, [join(root, 'usr', 'lib', 'bpfcountd', 'bpfcountd.js'), '-r', capture, '-f', filters, '--mac', mac],
    { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_PATH: join(root, 'usr', 'lib', 'node') } });
  assert.equal(run.status, 0, run.stderr);
  const rules = expandRules(readFilterFile(filters), mac);
  assert.ok(rules.length >= 20);
  const expected = oracleCounts(capture, rules.map((r) => r.expr));
  const got = parseCounterLines(run.stdout);
  assert.equal(got.size, rules.length);
  rules.forEach((r, i) => assert.deepEqual(got.get(r.id), expected[i], `${r.id}: ${r.expr}`));
  assert.ok(expected.some((c) => c.packets > 0), 'the capture matches some default rule');
  // Without the addon package the daemon says what is missing, in one line.
  rmSync(join(root, 'usr', 'lib', 'node'), { recursive: true });
  const missing = spawnSync(process.execPath, [join(root, 'usr', 'lib', 'bpfcountd', 'bpfcountd.js'), '-r', capture, '-f', filters, '--mac', mac],
    { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /libpcap binding/);
});

/** (router path, mode) pairs a feed Makefile's install recipe writes. */
function makefileInstalls(makefile: string, pkg: string): { to: string; mode: number; from: string }[] {
  const text = readFileSync(join(REPO_ROOT, 'openwrt', makefile, 'Makefile'), 'utf8');
  const block = new RegExp(`define Package/${pkg}/install\\n([\\s\\S]*?)\\nendef`).exec(text);
  assert.ok(block, `${makefile}/Makefile has no Package/${pkg}/install`);
  const out: { to: string; mode: number; from: string }[] = [];
  for (const m of block[1].matchAll(/\$\((INSTALL_BIN|INSTALL_DATA|INSTALL_CONF)\) \$\(PKG_BUILD_DIR\)\/(\S+) \$\(1\)(\S+)/g)) {
    const mode = m[1] === 'INSTALL_BIN' ? 0o755 : m[1] === 'INSTALL_CONF' ? 0o600 : 0o644;
    const from = m[2];
    const to = m[3].endsWith('/') ? `${m[3]}${from.split('/').pop()}` : m[3];
    out.push({ to, mode, from });
  }
  return out;
}

const byPath = (a: { to: string }, b: { to: string }): number => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0);

test('feed Makefiles install what the packages ship', () => {
  const spec = (name: string): PackageSpec => SPECS.find((s) => s.name === name) as PackageSpec;
  // bpfcountd: the build dir holds a copy of the repository (dist/ after build.sh).
  assert.deepEqual(makefileInstalls('bpfcountd', 'bpfcountd').sort(byPath),
    spec('bpfcountd').files.map((f) => ({ to: f.to, mode: f.mode, from: f.from })).sort(byPath));
  const text = readFileSync(join(REPO_ROOT, 'openwrt', 'bpfcountd', 'Makefile'), 'utf8');
  const conffiles = /define Package\/bpfcountd\/conffiles\n([\s\S]*?)\nendef/.exec(text);
  assert.ok(conffiles);
  assert.deepEqual(conffiles[1].split('\n'), spec('bpfcountd').files.filter((f) => f.conffile).map((f) => f.to));
  assert.match(text, /DEPENDS:=@HAS_FPU .*\+node \+node-pcap/);
  assert.equal(/USERID:=(\S+)/.exec(text)?.[1], spec('bpfcountd').requireUser, 'USERID as Require-User');
  // node-pcap: its build dir is the npm package's own tree (node_modules/pcap here).
  assert.deepEqual(makefileInstalls('node-pcap', 'node-pcap').sort(byPath),
    spec('node-pcap').files.map((f) => ({ to: f.to, mode: f.mode, from: f.from.replace(/^node_modules\/pcap\//, '') })).sort(byPath));
  const pcapMakefile = readFileSync(join(REPO_ROOT, 'openwrt', 'node-pcap', 'Makefile'), 'utf8');
  assert.equal(/PKG_VERSION:=(\S+)/.exec(pcapMakefile)?.[1], PCAP_VERSION);
  assert.equal(/PKG_VERSION:=(\S+)/.exec(text)?.[1], VERSION);
  // luci-app: luci.mk installs htdocs/ under /www and root/ under /.
  const app = join(REPO_ROOT, 'openwrt', 'luci-app-bpfcountd');
  const installedByLuciMk = [
    ...filesUnder(join(app, 'htdocs')).map((f) => ({ to: `/www/${relative(join(app, 'htdocs'), f)}`, from: relative(REPO_ROOT, f) })),
    ...filesUnder(join(app, 'root')).map((f) => ({ to: `/${relative(join(app, 'root'), f)}`, from: relative(REPO_ROOT, f) })),
  ].sort(byPath);
  assert.deepEqual(installedByLuciMk, spec('luci-app-bpfcountd').files.map((f) => ({ to: f.to, from: f.from })).sort(byPath));
  // Recipes need a leading tab inside define ... endef.
  for (const [dir, content] of [['bpfcountd', text], ['node-pcap', pcapMakefile]]) {
    for (const block of content.matchAll(/define (Build\/\w+|Package\/[\w-]+\/install)\n([\s\S]*?)\nendef/g)) {
      for (const line of block[2].split('\n')) assert.ok(line === '' || line.startsWith('\t'), `${dir}: ${block[1]}: '${line}'`);
    }
  }
});

test('the wrapper and the default config say where things are', () => {
  const wrapper = readFileSync(join(REPO_ROOT, 'files', 'usr', 'sbin', 'bpfcountd'), 'utf8');
  assert.match(wrapper, /^#!\/bin\/sh\n/);
  assert.match(wrapper, /exec \/usr\/bin\/node --single-threaded --no-sparkplug \/usr\/lib\/bpfcountd\/bpfcountd\.js "\$@"/);
  const syntax = spawnSync('busybox', ['sh', '-n', join(REPO_ROOT, 'files', 'usr', 'sbin', 'bpfcountd')], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // Every path the default config's comments point at is shipped.
  const config = readFileSync(join(REPO_ROOT, 'files', 'etc', 'config', 'bpfcountd'), 'utf8');
  const shipped = new Set(SPECS.flatMap((s) => s.files.map((f) => f.to)));
  const mentioned = [...config.matchAll(/(\/usr\/share\/doc\/\S+)/g)].map((m) => m[1].replace(/[.,)]$/, ''));
  assert.ok(mentioned.length > 0, 'the default config points at the documentation');
  for (const path of mentioned) assert.ok(shipped.has(path), `${path} is mentioned but not shipped`);
});
