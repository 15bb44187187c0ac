/**
 * files/etc/init.d/bpfcountd: syntax under busybox sh, shellcheck, and its
 * start/stop <section> logic run under busybox sh with a stand-in rc.common,
 * /lib/functions.sh and procd.sh that record the procd calls. The stand-in
 * rc.common follows the real one's control flow (start -> start_service inside
 * procd_open/close_service, method "add" when a section is named; stop ->
 * stop_service then procd_kill <service> <arg>). The script runs with a PATH
 * holding only busybox applets, as on a router.
 *
 * Needs busybox and shellcheck (apt-get install busybox shellcheck): the test
 * fails if either is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const script = join(root, 'files', 'etc', 'init.d', 'bpfcountd');

function which(tool: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  assert.equal(found.status, 0, `${tool} is not installed (apt-get install ${tool})`);
  return found.stdout.trim();
}

test('init script: busybox sh -n accepts it', () => {
  const result = spawnSync(which('busybox'), ['sh', '-n', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
});

test('init script: shellcheck finds nothing', () => {
  const result = spawnSync(which('shellcheck'), [script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

const FUNCTIONS_SH = `
# Stand-in for /lib/functions.sh: the main config's sections come from
# STUB_SECTIONS, "disabled" from STUB_DISABLED_<section>.
record() { printf '%s\\n' "$*" >>"$STUB_CALLS"; }
config_load() { record "config_load $1 UCI_CONFIG_DIR=\${UCI_CONFIG_DIR-}"; }
config_foreach() {
	_cb=$1
	if [ "$2" = daemon ]; then _list=\${STUB_DAEMON_SECTIONS-}; else _list=$STUB_SECTIONS; fi
	for _s in $_list; do "$_cb" "$_s"; done
}
# Options of any section: STUB_OPT_<section>_<option>.
config_get() {
	eval "_v=\\\${STUB_OPT_$2_$3:-\\\${4-}}"
	eval "$1=\\$_v"
}
config_get_bool() {
	eval "_v=\\\${STUB_DISABLED_$2:-$3}"
	eval "$1=\\$_v"
}
`;

const PROCD_SH = `
# Stand-in for /lib/functions/procd.sh: records every call.
procd_open_service() { record "procd_open_service $*"; }
procd_close_service() { service_triggers; record "procd_close_service $*"; }
procd_open_instance() { record "procd_open_instance $*"; }
procd_set_param() {
	record "procd_set_param $*"
	# The real procd.sh fills in respawn's defaults from the system config, through UCI_CONFIG_DIR.
	[ "$1" = respawn ] && [ $# = 1 ] && record "respawn defaults from \${UCI_CONFIG_DIR:-/etc/config}/system"
	return 0
}
procd_close_instance() { record "procd_close_instance"; }
procd_kill() { record "procd_kill $*"; }
procd_add_jail() { record "procd_add_jail $*"; }
procd_add_reload_trigger() { record "procd_add_reload_trigger $*"; }
`;

const RC_COMMON = `
. "$STUB_ROOT/lib/functions.sh"
initscript=$1
action=\${2:-help}
shift 2
start_service() { return 0; }
stop_service() { return 0; }
service_triggers() { return 0; }
. "$initscript"
# The test's paths instead of the router's.
PROG=$STUB_PROG
MAIN_CONFIG=$STUB_MAIN_CONFIG
RUNTIME_DIR=$STUB_RUNTIME_DIR
PID_FILE=$STUB_PID_FILE
UJAIL=$STUB_UJAIL
. "$STUB_ROOT/lib/functions/procd.sh"
rc_procd() {
	_method=set
	[ -n "$2" ] && _method=add
	procd_open_service bpfcountd "$initscript"
	"$@"
	procd_close_service "$_method"
}
start() { rc_procd start_service "$@"; }
stop() { stop_service "$@"; procd_kill bpfcountd "$1"; }
reload() { reload_service "$@"; }
restart() { stop "$@"; start "$@"; }
$action "$@"
`;

interface Harness {
  dir: string;
  runtime: string;
  pidFile: string;
  prog: string;
  mainConfig: string;
  gluonDir: string;
  hups: string;
  /** Where the script looks for procd's ujail (absent unless a test creates it). */
  ujail: string;
  /** Processes to kill when the test ends. */
  children: ChildProcess[];
  run(args: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string; calls: string[] };
  markers(): Record<string, string>;
}

function harness(t: { after: (fn: () => void) => void }, functionsSh = FUNCTIONS_SH): Harness {
  const busybox = which('busybox');
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-init-'));
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'lib', 'functions'), { recursive: true });
  writeFileSync(join(dir, 'lib', 'functions.sh'), functionsSh);
  writeFileSync(join(dir, 'lib', 'functions', 'procd.sh'), PROCD_SH);
  writeFileSync(join(dir, 'rc.common'), RC_COMMON);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const applet of ['sh', 'tr', 'mkdir', 'mv', 'rm', 'cat', 'pwd', 'sleep', 'id', 'chgrp', 'chmod', 'chown']) symlinkSync(busybox, join(bin, applet));
  mkdirSync(join(dir, 'etc', 'config'), { recursive: true });
  const mainConfig = join(dir, 'etc', 'config', 'bpfcountd');
  writeFileSync(mainConfig, "config bpfcountd 'eth0_in'\n\toption ifname 'eth0'\n");
  const gluonDir = join(dir, 'gluon-config');
  mkdirSync(gluonDir);
  writeFileSync(join(gluonDir, 'bpfcountd'), "config bpfcountd 'gluon_mesh0_in'\n\toption ifname 'mesh0'\n");
  const h: Harness = {
    dir,
    runtime: join(dir, 'run', 'runtime'),
    pidFile: join(dir, 'run', 'bpfcountd.pid'),
    prog: join(dir, 'usr', 'lib', 'bpfcountd', 'bpfcountd.js'),
    mainConfig,
    gluonDir,
    hups: join(dir, 'hups'),
    ujail: join(dir, 'sbin', 'ujail'),
    children,
    run(args, env = {}) {
      const calls = join(dir, 'calls');
      rmSync(calls, { force: true });
      const result = spawnSync(busybox, ['sh', join(dir, 'rc.common'), script, ...args], {
        encoding: 'utf8',
        cwd: dir,
        env: {
          PATH: bin,
          STUB_ROOT: dir,
          STUB_CALLS: calls,
          STUB_PROG: h.prog,
          STUB_MAIN_CONFIG: mainConfig,
          STUB_RUNTIME_DIR: h.runtime,
          STUB_PID_FILE: h.pidFile,
          STUB_UJAIL: h.ujail,
          STUB_SECTIONS: 'eth0_in',
          ...env,
        },
      });
      const recorded = existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l !== '') : [];
      return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: recorded };
    },
    markers() {
      if (!existsSync(h.runtime)) return {};
      const out: Record<string, string> = {};
      for (const name of readdirSync(h.runtime)) out[name] = readFileSync(join(h.runtime, name), 'utf8');
      return out;
    },
  };
  mkdirSync(join(dir, 'run'));
  return h;
}

/** A stand-in daemon: its command line names the bundle; it records each SIGHUP and writes its pid when ready. */
async function fakeDaemon(h: Harness, cmdlineWord: string): Promise<ChildProcess> {
  const busybox = which('busybox');
  const child = spawn(busybox, ['sh', '-c', 'trap "echo HUP >>\\"$HUPS\\"" HUP; echo $$ >"$PIDF"; while :; do sleep 0.05; done', cmdlineWord], {
    env: { HUPS: h.hups, PIDF: h.pidFile, PATH: join(h.dir, 'bin') },
    stdio: 'ignore',
  });
  h.children.push(child);
  await waitFor(() => existsSync(h.pidFile) && readFileSync(h.pidFile, 'utf8').trim() === String(child.pid), 'fake daemon ready');
  return child;
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hupCount(h: Harness): number {
  return existsSync(h.hups) ? readFileSync(h.hups, 'utf8').split('\n').filter((l) => l === 'HUP').length : 0;
}

const instanceCalls = (h: Harness): string[] => [
  // Which user: from the main config.
  `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
  'procd_open_instance bpfcountd',
  `procd_set_param command /usr/sbin/bpfcountd -c ${h.mainConfig} --runtime-dir ${h.runtime} --pid-file ${h.pidFile}`,
  'procd_set_param respawn',
  // Never Gluon's directory: procd would see another instance and restart the daemon.
  'respawn defaults from /etc/config/system',
  'procd_set_param stdout 1',
  'procd_set_param stderr 1',
  'procd_close_instance',
];

test('Gluon flow: start/stop <section> with UCI_CONFIG_DIR record markers and HUP the running daemon', async (t) => {
  const h = harness(t);
  await fakeDaemon(h, h.prog);
  const gluonEnv = { UCI_CONFIG_DIR: h.gluonDir };

  const started = h.run(['start', 'gluon_mesh0_in'], gluonEnv);
  assert.equal(started.status, 0, started.stderr);
  assert.deepEqual(h.markers(), { gluon_mesh0_in: `start ${h.gluonDir}/bpfcountd\n` });
  // The same single instance as always (procd leaves a running daemon alone), registered with "add".
  assert.deepEqual(started.calls, [
    `procd_open_service bpfcountd ${script}`,
    ...instanceCalls(h),
    'procd_add_reload_trigger bpfcountd',
    'procd_close_service add',
  ]);
  await waitFor(() => hupCount(h) === 1, 'HUP after start <section>');

  const stopped = h.run(['stop', 'gluon_mesh0_in'], gluonEnv);
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.deepEqual(h.markers(), { gluon_mesh0_in: 'stop\n' });
  // No procd call: the section is not a procd instance, and the daemon keeps running for eth0_in.
  assert.deepEqual(stopped.calls, [`config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`]);
  await waitFor(() => hupCount(h) === 2, 'HUP after stop <section>');
});

test('start/stop <section> of the main config, start and stop without a section', async (t) => {
  const h = harness(t);
  await fakeDaemon(h, h.prog);

  // The stand-in daemon may fold signals that arrive close together: wait for each.
  // eth0_out stays enabled: the daemon keeps running.
  assert.equal(h.run(['stop', 'eth0_in'], { STUB_SECTIONS: 'eth0_in eth0_out' }).status, 0);
  assert.deepEqual(h.markers(), { eth0_in: 'stop\n' });
  await waitFor(() => hupCount(h) === 1, 'HUP 1');
  assert.equal(h.run(['start', 'gluon_mesh0_in'], { UCI_CONFIG_DIR: h.gluonDir }).status, 0);
  await waitFor(() => hupCount(h) === 2, 'HUP 2');
  // A relative UCI_CONFIG_DIR is made absolute (the daemon runs elsewhere).
  assert.equal(h.run(['start', 'other'], { UCI_CONFIG_DIR: 'gluon-config' }).status, 0);
  assert.equal(h.markers().other, `start ${h.gluonDir}/bpfcountd\n`);
  await waitFor(() => hupCount(h) === 3, 'HUP 3');

  // start: forget stops by name, keep sections started by name.
  const all = h.run(['start']);
  assert.equal(all.status, 0, all.stderr);
  assert.deepEqual(h.markers(), { gluon_mesh0_in: `start ${h.gluonDir}/bpfcountd\n`, other: `start ${h.gluonDir}/bpfcountd\n` });
  assert.deepEqual(all.calls, [`procd_open_service bpfcountd ${script}`, ...instanceCalls(h), 'procd_add_reload_trigger bpfcountd', 'procd_close_service set']);
  await waitFor(() => hupCount(h) === 4, 'HUP after start');

  // restart <section>: stop then start, so the section ends up started.
  const named = h.run(['restart', 'gluon_mesh0_in'], { UCI_CONFIG_DIR: h.gluonDir });
  assert.equal(named.status, 0, named.stderr);
  assert.equal(h.markers().gluon_mesh0_in, `start ${h.gluonDir}/bpfcountd\n`);

  // reload: only a HUP.
  const before = hupCount(h);
  const reloaded = h.run(['reload']);
  assert.equal(reloaded.status, 0);
  // Only the user is looked up (unchanged: root), then the HUP.
  assert.deepEqual(reloaded.calls, [`config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`]);
  await waitFor(() => hupCount(h) === before + 1, 'HUP after reload');

  // stop: the daemon stops (procd_kill of the whole service) and every marker is forgotten.
  const stopAll = h.run(['stop']);
  assert.equal(stopAll.status, 0);
  assert.deepEqual(stopAll.calls, ['procd_kill bpfcountd ']); // no instance: the whole service
  assert.equal(existsSync(h.runtime), false);
});

test('start without a section and nothing enabled or started: no instance (procd stops the daemon)', (t) => {
  const h = harness(t);
  const result = h.run(['start'], { STUB_SECTIONS: 'eth0_in eth0_out', STUB_DISABLED_eth0_in: '1', STUB_DISABLED_eth0_out: '1' });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.calls, [
    `procd_open_service bpfcountd ${script}`,
    // The main config is read even when the caller has UCI_CONFIG_DIR set.
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    'procd_add_reload_trigger bpfcountd',
    'procd_close_service set',
  ]);
  // One enabled section: the instance is declared; no daemon runs, so no HUP is attempted.
  const one = h.run(['start'], { STUB_SECTIONS: 'eth0_in eth0_out', STUB_DISABLED_eth0_in: '1', STUB_DISABLED_eth0_out: '0', UCI_CONFIG_DIR: h.gluonDir });
  assert.deepEqual(one.calls, [
    `procd_open_service bpfcountd ${script}`,
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    ...instanceCalls(h),
    'procd_add_reload_trigger bpfcountd',
    'procd_close_service set',
  ]);
  assert.equal(hupCount(h), 0);
});

test('reload without a running daemon starts it (after enabling a section) and keeps stops by name', (t) => {
  const h = harness(t);
  assert.equal(h.run(['stop', 'eth0_out']).status, 0);
  const reloaded = h.run(['reload'], { STUB_SECTIONS: 'eth0_in eth0_out', STUB_DISABLED_eth0_in: '0' });
  assert.equal(reloaded.status, 0, reloaded.stderr);
  assert.deepEqual(reloaded.calls, [
    // reload first asks whether anything is left to serve, and as which user.
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    `procd_open_service bpfcountd ${script}`,
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    ...instanceCalls(h),
    'procd_add_reload_trigger bpfcountd',
    'procd_close_service set',
  ]);
  assert.deepEqual(h.markers(), { eth0_out: 'stop\n' });
});

test('bad section names and a missing UCI file are refused without touching the runtime dir', (t) => {
  const h = harness(t);
  for (const name of ['../etc', 'a b', 'x-y', 'a/b']) {
    // rc.common ignores start_service's status: the message and the absent instance are what count.
    const result = h.run(['start', name]);
    assert.match(result.stderr, /invalid section name/);
    assert.ok(!result.calls.includes('procd_open_instance bpfcountd'), result.calls.join('\n'));
    const stopped = h.run(['stop', name]);
    assert.match(stopped.stderr, /invalid section name/);
    // Nor is procd asked to delete an instance of that name (it could only say "Not found").
    assert.deepEqual(stopped.calls, [], stopped.calls.join('\n'));
  }
  const missing = h.run(['start', 'x'], { UCI_CONFIG_DIR: join(h.dir, 'nowhere') });
  assert.match(missing.stderr, /no .*nowhere\/bpfcountd for section 'x'/);
  assert.ok(!missing.calls.includes('procd_open_instance bpfcountd'));
  assert.deepEqual(h.markers(), {});
});

test('a stale pid file naming another process: no signal is sent to it', async (t) => {
  const h = harness(t);
  const other = await fakeDaemon(h, '/usr/bin/something-else');
  const result = h.run(['reload']);
  assert.equal(result.status, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hupCount(h), 0);
  assert.equal(other.exitCode, null);
  // And a pid file with garbage or a dead pid is ignored too.
  writeFileSync(h.pidFile, 'not-a-pid\n');
  assert.equal(h.run(['reload']).status, 0);
  writeFileSync(h.pidFile, '999999999\n');
  assert.equal(h.run(['reload']).status, 0);
});

test('the last section stopped by name, or a reload with nothing enabled, stops the daemon and keeps the service', async (t) => {
  const h = harness(t);
  const daemon = await fakeDaemon(h, h.prog);
  const gluonEnv = { UCI_CONFIG_DIR: h.gluonDir };
  const noMain = { STUB_SECTIONS: 'eth0_in', STUB_DISABLED_eth0_in: '1' };
  // The service declared again without an instance: procd stops the daemon, the reload trigger stays
  // (deleting the service would drop it, and "uci commit; reload_config" would start nothing later).
  const noInstance = [`procd_open_service bpfcountd ${script}`, 'procd_add_reload_trigger bpfcountd', 'procd_close_service set'];
  const procdCalls = (calls: string[]): string[] => calls.filter((c) => c.startsWith('procd_'));
  assert.equal(h.run(['start', 'gluon_mesh0_in'], { ...gluonEnv, ...noMain }).status, 0);
  assert.equal(h.run(['start', 'gluon_mesh0_out'], { ...gluonEnv, ...noMain }).status, 0);
  // Another section still runs: only a HUP, no procd call.
  const first = h.run(['stop', 'gluon_mesh0_in'], { ...gluonEnv, ...noMain });
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(procdCalls(first.calls), []);
  const last = h.run(['stop', 'gluon_mesh0_out'], { ...gluonEnv, ...noMain });
  assert.equal(last.status, 0, last.stderr);
  assert.deepEqual(procdCalls(last.calls), noInstance);
  // The stops by name are kept: a later reload does not bring those sections back.
  assert.deepEqual(h.markers(), { gluon_mesh0_in: 'stop\n', gluon_mesh0_out: 'stop\n' });
  // An enabled section stopped by name counts as stopped too.
  const enabledStopped = h.run(['stop', 'eth0_in'], { STUB_SECTIONS: 'eth0_in' });
  assert.deepEqual(procdCalls(enabledStopped.calls), noInstance);
  // reload with every section disabled and none started by name: no instance either.
  const reloaded = h.run(['reload'], { STUB_SECTIONS: 'eth0_in eth0_out', STUB_DISABLED_eth0_in: '1', STUB_DISABLED_eth0_out: '1' });
  assert.equal(reloaded.status, 0, reloaded.stderr);
  assert.deepEqual(procdCalls(reloaded.calls), noInstance);
  // procd has stopped the daemon by now. Enabling a section and reloading (what reload_config does
  // after uci commit) declares the instance again.
  daemon.kill('SIGKILL');
  await new Promise((resolve) => daemon.once('exit', resolve));
  const back = h.run(['reload'], { STUB_SECTIONS: 'eth0_in eth0_out', STUB_DISABLED_eth0_in: '1', STUB_DISABLED_eth0_out: '0' });
  assert.ok(back.calls.includes('procd_open_instance bpfcountd'), back.calls.join('\n'));
});

// ---- as another user ---------------------------------------------------------

/** Debian's (and OpenWrt's) unprivileged user and its group. */
const NOBODY = { user: 'nobody', group: spawnSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).stdout.trim() };
const asNobody = { STUB_DAEMON_SECTIONS: 'daemon', STUB_OPT_daemon_user: 'nobody' };

function fakeUjail(h: Harness): void {
  mkdirSync(join(h.dir, 'sbin'), { recursive: true });
  writeFileSync(h.ujail, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
}

test('option user: the instance runs as that user through ujail with CAP_NET_RAW alone; its files are granted', (t) => {
  const h = harness(t);
  fakeUjail(h);
  chmodSync(h.mainConfig, 0o600); // as opkg installs it
  // Left by a daemon that ran as root: removed while none runs (the sticky directory would keep them).
  writeFileSync(h.pidFile, '999999999\n');
  const stale = join(h.dir, 'run', 'eth0_in.sock');
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.ok(lstatSync(stale).isSocket(), 'a stale socket to clear');
  const other = join(h.dir, 'run', 'notes.txt');
  writeFileSync(other, 'not ours to remove\n');

  const result = h.run(['start'], asNobody);
  assert.equal(result.status, 0, result.stderr);
  const instance = instanceCalls(h);
  assert.deepEqual(result.calls, [
    `procd_open_service bpfcountd ${script}`,
    `config_load bpfcountd UCI_CONFIG_DIR=${join(h.dir, 'etc', 'config')}`,
    ...instance.slice(0, -1),
    `procd_set_param user ${NOBODY.user}`,
    `procd_set_param group ${NOBODY.group}`,
    'procd_set_param capabilities /etc/capabilities/bpfcountd.json',
    'procd_set_param no_new_privs 1',
    'procd_add_jail bpfcountd',
    'procd_close_instance',
    'procd_add_reload_trigger bpfcountd',
    'procd_close_service set',
  ]);
  const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const config = statSync(h.mainConfig);
  assert.equal(config.gid, gid, 'the main config belongs to the daemon group');
  assert.equal(config.mode & 0o777, 0o640, 'readable by the group, by no one else');
  const base = statSync(join(h.dir, 'run'));
  assert.equal(base.uid, 0);
  assert.equal(base.gid, gid);
  assert.equal(base.mode & 0o7777, 0o1775, 'group-writable and sticky');
  assert.equal(existsSync(h.pidFile), false, 'stale pid file removed');
  assert.equal(existsSync(stale), false, 'stale socket removed');
  assert.equal(existsSync(other), true, 'other files left alone');
});

test('option user without ujail, an unknown user or an unusable name: refused, no instance', (t) => {
  const h = harness(t);
  const noJail = h.run(['start'], asNobody);
  assert.match(noJail.stderr, /option user 'nobody' needs .*ujail .*procd-ujail.*not started/);
  assert.ok(!noJail.calls.includes('procd_open_instance bpfcountd'), noJail.calls.join('\n'));
  fakeUjail(h);
  const unknown = h.run(['start'], { ...asNobody, STUB_OPT_daemon_user: 'no_such_user_here' });
  assert.match(unknown.stderr, /no user 'no_such_user_here': not started/);
  assert.ok(!unknown.calls.includes('procd_open_instance bpfcountd'));
  const badGroup = h.run(['start'], { ...asNobody, STUB_OPT_daemon_group: 'Bad.Group' });
  assert.match(badGroup.stderr, /invalid or unknown group/);
  assert.ok(!badGroup.calls.includes('procd_open_instance bpfcountd'));
  assert.equal(statSync(h.mainConfig).gid, 0, 'nothing granted');
});

test('reload after the user changed: procd gets the new instance (a HUP would keep the old user)', async (t) => {
  const h = harness(t);
  fakeUjail(h);
  await fakeDaemon(h, h.prog); // runs as root
  const same = h.run(['reload']);
  assert.deepEqual(same.calls.filter((c) => c.startsWith('procd_')), [], 'unchanged: only a HUP');
  await waitFor(() => hupCount(h) === 1, 'HUP');
  const changed = h.run(['reload'], asNobody);
  assert.equal(changed.status, 0, changed.stderr);
  assert.ok(changed.calls.includes(`procd_set_param user ${NOBODY.user}`), changed.calls.join('\n'));
});

// ---- values with shell metacharacters ----------------------------------------

/**
 * A stand-in /lib/functions.sh that hands the init script every section name
 * and option value exactly as written, whatever it holds (the real
 * config_load gets them from `uci export`, which quotes them). The test
 * writes one directory per section under $STUB_UCI: `type`, `name` and
 * `opt.<option>` files.
 */
const LITERAL_FUNCTIONS_SH = `
record() { printf '%s\\n' "$*" >>"$STUB_CALLS"; }
config_load() { record "config_load $1"; }
_stub_read() { _r=$(cat "$1"; printf x); _r=\${_r%x}; }
config_foreach() {
	_cb=$1
	for _d in "$STUB_UCI"/*; do
		_stub_read "$_d/type"
		[ "$_r" = "$2" ] || continue
		_stub_read "$_d/name"
		"$_cb" "$_r"
	done
}
config_get() {
	_v=\${4-}
	for _d in "$STUB_UCI"/*; do
		_stub_read "$_d/name"
		[ "$_r" = "$2" ] || continue
		[ -f "$_d/opt.$3" ] && { _stub_read "$_d/opt.$3"; _v=$_r; }
	done
	eval "$1=\\$_v"
}
config_get_bool() {
	config_get _b "$2" "$3" "\${4-0}"
	case "$_b" in
		1 | on | true | yes | enabled) _b=1 ;;
		0 | off | false | no | disabled) _b=0 ;;
		*) _b=\${4-0} ;;
	esac
	eval "$1=\\$_b"
}
`;

/**
 * Each value creates `<dir>/pwned-<n>` if anything hands it to a shell: by a
 * redirection (no command needed) or busybox's touch by its absolute path
 * (the script's PATH has no touch).
 */
function nasty(dir: string): string[] {
  const m = (n: number): string => join(dir, `pwned-${n}`);
  const touch = `${which('busybox')} touch`;
  return [
    `$(: >${m(1)})`,
    `\`${touch} ${m(2)}\``,
    `x; ${touch} ${m(3)}`,
    `x | ${touch} ${m(4)}`,
    `x' ; ${touch} ${m(5)} ; '`,
    `x" ; ${touch} ${m(6)} ; "`,
    `x\n${touch} ${m(7)}`,
    `*`,
    `../../etc/x`,
    `x && : >${m(8)} #`,
    `$(${touch} ${m(9)})\n`,
    `x>${m(10)}`,
  ];
}

function pwned(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('pwned-'));
}

test('UCI values with shell metacharacters never reach a shell: section names, user, group, disabled', async (t) => {
  const h = harness(t, LITERAL_FUNCTIONS_SH);
  fakeUjail(h);
  const uci = join(h.dir, 'uci');
  let n = 0;
  const section = (type: string, name: string, options: Record<string, string>): void => {
    const d = join(uci, String(n++).padStart(3, '0'));
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'type'), type);
    writeFileSync(join(d, 'name'), name);
    for (const [k, v] of Object.entries(options)) writeFileSync(join(d, `opt.${k}`), v);
  };
  const values = nasty(h.dir);
  for (const v of values) {
    section('bpfcountd', v, { disabled: v, ifname: v, filterfile: v, socket: v, prefilter: v });
    section('bpfcountd', `ok${n}`, { disabled: v, ifname: v });
  }
  const env = { STUB_UCI: uci };
  const stopNames = (): void => {
    for (const v of values) {
      const stopped = h.run(['stop', v], env);
      assert.match(stopped.stderr, /invalid section name/, JSON.stringify(v));
      const started = h.run(['start', v], env);
      assert.match(started.stderr, /invalid section name/, JSON.stringify(v));
    }
  };

  // No user: every odd section name is skipped, the valid ones count (disabled '<garbage>' is the default 0).
  const started = h.run(['start'], env);
  assert.equal(started.status, 0, started.stderr);
  assert.ok(started.calls.includes(instanceCalls(h)[2]), `the fixed command line:\n${started.calls.join('\n')}`);
  assert.ok(!started.calls.some((c) => c.startsWith('procd_set_param user')), 'root');
  stopNames();
  assert.deepEqual(h.markers(), {}, 'no marker for a refused name');

  // The values as user, then as group: refused in one line each, no instance, nothing granted.
  for (const v of values) {
    mkdirSync(join(uci, 'zz-daemon'), { recursive: true });
    writeFileSync(join(uci, 'zz-daemon', 'type'), 'daemon');
    writeFileSync(join(uci, 'zz-daemon', 'name'), 'daemon');
    writeFileSync(join(uci, 'zz-daemon', 'opt.user'), v);
    const asUser = h.run(['start'], env);
    assert.match(asUser.stderr, /invalid user name .*: not started/, JSON.stringify(v));
    assert.ok(!asUser.calls.includes('procd_open_instance bpfcountd'), JSON.stringify(v));
    writeFileSync(join(uci, 'zz-daemon', 'opt.user'), 'nobody');
    writeFileSync(join(uci, 'zz-daemon', 'opt.group'), v);
    const asGroup = h.run(['start'], env);
    assert.match(asGroup.stderr, /invalid or unknown group/, JSON.stringify(v));
    assert.ok(!asGroup.calls.includes('procd_open_instance bpfcountd'), JSON.stringify(v));
    const reloaded = h.run(['reload'], env);
    assert.ok(!reloaded.calls.includes('procd_open_instance bpfcountd'), JSON.stringify(v));
    rmSync(join(uci, 'zz-daemon', 'opt.group'));
  }
  assert.equal(statSync(h.mainConfig).gid, 0, 'nothing granted');
  // A running daemon: reload and stop go through the same values.
  await fakeDaemon(h, h.prog);
  rmSync(join(uci, 'zz-daemon'), { recursive: true });
  assert.equal(h.run(['reload'], env).status, 0);
  stopNames();
  assert.equal(h.run(['stop'], env).status, 0);
  assert.deepEqual(pwned(h.dir), [], 'no value ran as a command');
  assert.deepEqual(readdirSync(h.dir).filter((f) => !['lib', 'rc.common', 'bin', 'etc', 'gluon-config', 'run', 'sbin', 'uci', 'calls', 'hups'].includes(f)), [],
    'no file appeared beside the harness');
});

test('the daemon takes UCI values with shell metacharacters literally (--check): nothing runs', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-literal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const daemon = join(root, 'dist', 'bpfcountd.js');
  for (const [i, v] of nasty(dir).entries()) {
    if (v.includes("'") || v.includes('\n')) continue; // not expressible in a single-quoted UCI value
    const config = join(dir, `config-${i}`);
    writeFileSync(config, [
      "config bpfcountd 'lan'",
      `\toption ifname '${v}'`,
      `\toption socket '${join(dir, 'sock', v.replace(/\//g, '_'))}'`,
      `\toption filterfile '${join(dir, v.replace(/\//g, '_'))}'`,
      `\tlist rule 'r;${v}'`,
      '',
    ].join('\n'));
    const result = spawnSync(process.execPath, [daemon, '-c', config, '--check'], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
    assert.notEqual(result.status, null, 'it ended');
    // Refused (a file that does not exist, or an expression libpcap rejects), naming the value as written.
    assert.notEqual(result.status, 0, `${v}: ${result.stdout}${result.stderr}`);
    assert.ok((result.stdout + result.stderr).includes(v.replace(/\//g, '_')) || (result.stdout + result.stderr).includes(v),
      `${JSON.stringify(v)} appears literally: ${result.stdout}${result.stderr}`);
  }
  assert.deepEqual(pwned(dir), [], 'no value ran as a command');
});
