/** Instance set from UCI sections and runtime markers (loadServiceConfig). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { defaultConfigPaths, loadServiceConfig, readRuntimeMarkers, serviceMetrics, type InstanceSpec } from '../../src/config/service-config';

const root = join(__dirname, '..', '..', '..');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-svc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

function expectConfigError(fn: () => unknown, where: string, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.where, where);
    assert.match(err.reason, reason);
    return true;
  });
}

const names = (instances: InstanceSpec[]): string[] => instances.map((i) => i.name);

test('the shipped default config: both sections disabled, so no instance', () => {
  assert.deepEqual(loadServiceConfig({ configPaths: [join(root, 'files', 'etc', 'config', 'bpfcountd')] }), []);
});

test('the shipped sections, enabled: defaults and the shipped filter file', (t) => {
  const dir = tempDir(t);
  const filters = join(root, 'files', 'etc', 'bpfcountd.filters');
  const config = write(join(dir, 'bpfcountd'), `
config bpfcountd 'eth0_in'
	option ifname 'eth0'
	option prefilter 'inbound'
	option filterfile '${filters}'
	option buffersize '2097152'

config bpfcountd 'eth0_out'
	option disabled '0'
	option ifname 'eth0'
	option prefilter 'outbound'
	option filterfile '${filters}'
`);
  const instances = loadServiceConfig({ configPaths: [config] });
  assert.deepEqual(names(instances), ['eth0_in', 'eth0_out']);
  const [inbound, outbound] = instances;
  assert.equal(inbound.ifname, 'eth0');
  assert.equal(inbound.prefilter, 'inbound');
  assert.equal(outbound.prefilter, 'outbound');
  assert.equal(inbound.bufferSize, 2097152);
  assert.equal(outbound.bufferSize, 2097152);
  assert.equal(inbound.socketPath, '/var/run/bpfcountd/eth0_in.sock');
  assert.equal(outbound.socketPath, '/var/run/bpfcountd/eth0_out.sock');
  assert.equal(inbound.ubusSocket, undefined);
  assert.equal(inbound.where, `${config}:2`);
  assert.equal(inbound.rules[0].id, 'arp-req');
  assert.equal(inbound.rules[0].text, 'arp[6:2] == 1');
  assert.equal(inbound.rules[0].where, `${filters}:7`);
});

test('extensions: list rule after the filterfile rules, socket, ubus_socket; directory argument', (t) => {
  const dir = tempDir(t);
  const filters = write(join(dir, 'f.filters'), 'a;arp\nb;ip\n');
  write(join(dir, 'bpfcountd'), `
config bpfcountd 'x'
	option ifname 'br-client'
	option filterfile '${filters}'
	list rule 'c;ip6 and \${b}'
	list rule 'mac;ether src $MAC'
	option socket '/tmp/x.sock'
	option ubus_socket '/var/run/ubus/ubus.sock'
	option buffersize '131072'
config bpfcountd 'inline_only'
	option ifname 'eth1'
	option rule 'only;udp'
`);
  const [x, inline] = loadServiceConfig({ configPaths: [dir] });
  assert.deepEqual(x.rules.map((r) => [r.id, r.text, r.where]), [
    ['a', 'arp', `${filters}:1`],
    ['b', 'ip', `${filters}:2`],
    ['c', 'ip6 and ${b}', `${join(dir, 'bpfcountd')}:5`],
    ['mac', 'ether src $MAC', `${join(dir, 'bpfcountd')}:6`],
  ]);
  assert.equal(x.socketPath, '/tmp/x.sock');
  assert.equal(x.ubusSocket, '/var/run/ubus/ubus.sock');
  assert.equal(x.bufferSize, 131072);
  assert.equal(inline.name, 'inline_only');
  assert.deepEqual(inline.rules.map((r) => r.id), ['only']);
});

test('other section types are ignored, anonymous sections get the libuci name', (t) => {
  const dir = tempDir(t);
  const config = write(join(dir, 'bpfcountd'), `
config globals 'g'
	option whatever '1'
config bpfcountd
	option ifname 'eth0'
	list rule 'a;arp'
`);
  const [only] = loadServiceConfig({ configPaths: [config] });
  assert.equal(only.name, 'cfg02862a');
  assert.equal(only.socketPath, '/var/run/bpfcountd/cfg02862a.sock');
});

test('disabled accepts the UCI booleans', (t) => {
  const dir = tempDir(t);
  const sections = ['1', 'yes', 'on', 'true', 'enabled', '0', 'no', 'off', 'false', 'disabled']
    .map((v, i) => `config bpfcountd 's${i}'\n\toption disabled '${v}'\n\toption ifname 'eth0'\n\tlist rule 'a;arp'\n\toption socket '/tmp/${i}.sock'\n`)
    .join('');
  const config = write(join(dir, 'bpfcountd'), sections);
  assert.deepEqual(names(loadServiceConfig({ configPaths: [config] })), ['s5', 's6', 's7', 's8', 's9']);
});

test('UCI_CONFIG_DIR sets the default config path', () => {
  assert.deepEqual(defaultConfigPaths({}), ['/etc/config/bpfcountd']);
  assert.deepEqual(defaultConfigPaths({ UCI_CONFIG_DIR: '' }), ['/etc/config/bpfcountd']);
  assert.deepEqual(defaultConfigPaths({ UCI_CONFIG_DIR: '/var/run/bpfcountd/gluon-config' }), ['/var/run/bpfcountd/gluon-config/bpfcountd']);
});

/** The Gluon flow: main config + sections started from another UCI dir, and sections stopped by name. */
test('runtime markers: stop removes a main section, start adds a section from another file', (t) => {
  const dir = tempDir(t);
  const main = write(join(dir, 'bpfcountd'), `
config bpfcountd 'eth0_in'
	option ifname 'eth0'
	list rule 'a;arp'
config bpfcountd 'eth0_out'
	option ifname 'eth0'
	list rule 'a;arp'
config bpfcountd 'off'
	option disabled '1'
	option ifname 'eth0'
	list rule 'a;arp'
`);
  mkdirSync(join(dir, 'gluon-config'));
  const gluon = write(join(dir, 'gluon-config', 'bpfcountd'), `
config bpfcountd 'gluon_mesh0_in'
	option ifname 'mesh0'
	option prefilter 'inbound'
	option buffersize '131072'
	list rule 'm;ip6 multicast'
config bpfcountd 'gluon_mesh0_out'
	option ifname 'mesh0'
	list rule 'm;ip6 multicast'
`);
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime);
  write(join(runtime, 'eth0_out'), 'stop\n');
  write(join(runtime, 'gluon_mesh0_in'), `start ${gluon}\n`);
  write(join(runtime, '.gluon_mesh0_out.1234'), `start ${gluon}\n`); // a write in progress
  const warnings: string[] = [];
  const instances = loadServiceConfig({ configPaths: [main], runtimeDir: runtime, warn: (m) => warnings.push(m) });
  assert.deepEqual(names(instances), ['eth0_in', 'gluon_mesh0_in']);
  assert.equal(instances[1].ifname, 'mesh0');
  assert.equal(instances[1].bufferSize, 131072);
  assert.equal(instances[1].where, `${gluon}:2`);
  assert.equal(instances[1].socketPath, '/var/run/bpfcountd/gluon_mesh0_in.sock');
  assert.deepEqual(warnings, []);

  // start by name of a main section after a stop; a start of a disabled section does not run it.
  write(join(runtime, 'eth0_out'), `start ${main}\n`);
  write(join(runtime, 'off'), `start ${main}\n`);
  assert.deepEqual(names(loadServiceConfig({ configPaths: [main], runtimeDir: runtime })), ['eth0_in', 'eth0_out', 'gluon_mesh0_in']);

  // A started section whose file or section is gone: warned about and skipped, the rest runs.
  write(join(runtime, 'gone'), `start ${join(dir, 'nowhere', 'bpfcountd')}\n`);
  write(join(runtime, 'gluon_mesh1_in'), `start ${gluon}\n`);
  write(join(runtime, 'junk'), 'restart now\n');
  write(join(runtime, 'bad-name'), 'stop\n');
  write(join(runtime, 'not_in_main'), `start ${main}\n`);
  const later: string[] = [];
  assert.deepEqual(names(loadServiceConfig({ configPaths: [main], runtimeDir: runtime, warn: (m) => later.push(m) })), ['eth0_in', 'eth0_out', 'gluon_mesh0_in']);
  assert.equal(later.length, 5, later.join('\n'));
  assert.match(later.join('\n'), /not_in_main: section 'not_in_main' skipped: no 'config bpfcountd 'not_in_main''/);
  assert.match(later.join('\n'), /bad-name: ignored: not a section name/);
  assert.match(later.join('\n'), /gone: section 'gone' skipped: .*cannot read UCI file \(ENOENT\)/);
  assert.match(later.join('\n'), /gluon_mesh1_in: section 'gluon_mesh1_in' skipped: no 'config bpfcountd 'gluon_mesh1_in''/);
  assert.match(later.join('\n'), /junk: ignored: expected 'start <absolute path>' or 'stop', got 'restart now'/);
});

test('a missing runtime dir means no markers', () => {
  assert.equal(readRuntimeMarkers(join(tmpdir(), 'bpfcountd-no-such-dir-'), () => undefined).size, 0);
});

test('a section started from another file wins over the main section of the same name', (t) => {
  const dir = tempDir(t);
  const main = write(join(dir, 'main'), "config bpfcountd 'x'\n\toption ifname 'eth0'\n\tlist rule 'a;arp'\n");
  const other = write(join(dir, 'other'), "config bpfcountd 'x'\n\toption ifname 'eth9'\n\tlist rule 'a;arp'\n");
  const runtime = join(dir, 'rt');
  mkdirSync(runtime);
  write(join(runtime, 'x'), `start ${other}\n`);
  const instances = loadServiceConfig({ configPaths: [main], runtimeDir: runtime });
  assert.deepEqual(instances.map((i) => i.ifname), ['eth9']);
});

test('errors carry the file:line of the offending option or section', (t) => {
  const dir = tempDir(t);
  const cases: [string, number, RegExp][] = [
    ["config bpfcountd 'a'\n\tlist rule 'x;arp'\n", 1, /section 'a' has no 'option ifname'/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n", 1, /neither 'option filterfile' nor 'list rule'/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption buffersize '2M'\n", 4, /buffersize '2M' is not a number of bytes/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption buffersize '0'\n", 4, /out of range/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption buffersize '4294967296'\n", 4, /out of range/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption disabled 'maybe'\n", 4, /'maybe' is not a boolean/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\n\tlist rule 'no semicolon'\n", 4, /missing ';'/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule ';arp'\n", 3, /empty rule id/],
    ["config bpfcountd 'a'\n\tlist ifname 'eth0'\n\tlist rule 'x;arp'\n", 2, /'ifname' must be an option, not a list/],
    ["config bpfcountd 'a'\n\toption ifname 'eth 0'\n\tlist rule 'x;arp'\n", 2, /invalid interface name/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption socket 'rel.sock'\n", 4, /not absolute/],
    [`config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption socket '/${'s'.repeat(107)}'\n`, 4, /longer than 107 bytes/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption ubus_socket 'ubus.sock'\n", 4, /ubus_socket 'ubus.sock' is not absolute/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption filterfile '/nonexistent/bpfcountd.filters'\n", 4, /filterfile \/nonexistent\/bpfcountd.filters: cannot read filter file \(ENOENT\)/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\nconfig bpfcountd 'b'\n\toption ifname 'eth1'\n\tlist rule 'x;arp'\n\toption socket '/var/run/bpfcountd/a.sock'\n", 4, /socket \/var\/run\/bpfcountd\/a.sock is also used by section 'a' \(.*:1\)/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption broken 'unterminated\n", 4, /unterminated '/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption metrics_listen '9102'\n", 4, /metrics_listen: '9102' is not <host>:<port>/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption metrics_textfile 'x.prom'\n", 4, /metrics_textfile 'x.prom' is not absolute/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n\toption metrics_interval '1m'\n", 4, /metrics_interval: '1m' is not an interval/],
    ["config bpfcountd 'a'\n\toption ifname 'eth0'\n\tlist rule 'ok;arp'\n\tlist rule 'type=\"arp\",type=\"x\";arp'\n", 4, /rule id 'type="arp",type="x"' is not a valid label list: label 'type' appears twice/],
  ];
  cases.forEach(([text, line, reason], i) => {
    const file = write(join(dir, `case${i}`), text);
    expectConfigError(() => loadServiceConfig({ configPaths: [file] }), `${file}:${line}`, reason);
  });
});

test('an error inside the filter file points into the filter file', (t) => {
  const dir = tempDir(t);
  const filters = write(join(dir, 'f'), '# header\n\nok;arp\nbroken line\n');
  const config = write(join(dir, 'bpfcountd'), `config bpfcountd 'a'\n\toption ifname 'eth0'\n\toption filterfile '${filters}'\n`);
  expectConfigError(() => loadServiceConfig({ configPaths: [config] }), `${filters}:4`, /missing ';'/);
});

test('the same section name in two main config files is refused; a missing main file is an error', (t) => {
  const dir = tempDir(t);
  const a = write(join(dir, 'a'), "config bpfcountd 'x'\n\toption ifname 'eth0'\n\tlist rule 'r;arp'\n");
  const b = write(join(dir, 'b'), "\nconfig bpfcountd 'x'\n\toption ifname 'eth1'\n\tlist rule 'r;arp'\n");
  expectConfigError(() => loadServiceConfig({ configPaths: [a, b] }), `${b}:2`, new RegExp(`section 'x' is also defined at ${a}:1`));
  const missing = join(dir, 'missing');
  expectConfigError(() => loadServiceConfig({ configPaths: [missing] }), missing, /cannot read UCI file \(ENOENT\)/);
});

test('unknown options are warned about with their position', (t) => {
  const dir = tempDir(t);
  const config = write(join(dir, 'bpfcountd'), "config bpfcountd 'a'\n\toption ifname 'eth0'\n\toption ifnam 'eth1'\n\tlist rule 'r;arp'\n");
  const warnings: string[] = [];
  loadServiceConfig({ configPaths: [config], warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, [`${config}:3: unknown option 'ifnam' in section 'a' ignored`]);
});

test('metrics options: one listener and textfile for the daemon, set on any section; sections must agree', (t) => {
  const dir = tempDir(t);
  const section = (name: string, extra: string): string => `config bpfcountd '${name}'\n\toption ifname 'eth0'\n\tlist rule 'x;arp'\n${extra}`;
  const none = write(join(dir, 'none'), section('a', ''));
  assert.deepEqual(serviceMetrics(loadServiceConfig({ configPaths: [none] })), {});
  const both = write(join(dir, 'both'), section('a', "\toption metrics_listen '127.0.0.1:9102'\n\toption metrics_interval '30'\n")
    + section('b', "\toption metrics_listen '127.0.0.1:9102'\n\toption metrics_textfile '/var/prometheus/bpfcountd.prom'\n")
    + section('c', "\toption disabled '1'\n\toption metrics_listen '127.0.0.1:1'\n"));
  assert.deepEqual(serviceMetrics(loadServiceConfig({ configPaths: [both] })), {
    listen: { value: { host: '127.0.0.1', port: 9102 }, where: `${both}:4` },
    interval: { value: 30, where: `${both}:5` },
    textfile: { value: '/var/prometheus/bpfcountd.prom', where: `${both}:10` },
  });
  const clash = write(join(dir, 'clash'), section('a', "\toption metrics_listen '127.0.0.1:9102'\n") + section('b', "\toption metrics_listen '[::1]:9102'\n"));
  expectConfigError(() => serviceMetrics(loadServiceConfig({ configPaths: [clash] })), `${clash}:8`,
    new RegExp(`metrics_listen differs from the one at ${clash}:4 \\(one for the whole daemon\\)`));
});
