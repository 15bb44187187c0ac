/**
 * Entry point: the modes of the daemon.
 *   -i  single interface, counters on a unix socket (the C original)
 *   -c  service mode: every enabled UCI section in this one process
 *   -r  count a capture file, print the counters, exit
 *   --check  validate and print how each rule is evaluated
 */
import { traceStartup } from './startup-trace';
import { basename, dirname } from 'node:path';
import { files, removeIfPresent } from './files';
import { parseArgs, USAGE, UsageError, type Options } from './cli';
import { ConfigError } from './config/errors';
import { expandRules } from './config/expand';
import { readFilterFile } from './config/filter-file';
import { DEFAULT_METRICS_INTERVAL_S } from './config/metrics-options';
import {
  defaultConfigPaths, DEFAULT_RUNTIME_DIR, loadServiceConfig, serviceMetrics, SOCKET_DIR, type MetricsOptions,
} from './config/service-config';
import { ExpressionChecker } from './capture/validate';
import { interfaceExists, interfaceMac } from './capture/interface';
import { CaptureSet, type CaptureSetSpec } from './engine/capture-set';
import { Counters } from './engine/counters';
import { describePlan } from './engine/describe';
import { MetricsOutputs, type MetricsSettings } from './outputs/metrics-outputs';
import { formatQuery, querySockets, readSocket } from './outputs/query';
import { formatCounterLines, SOCKET_WATCH_MS, type CounterLine } from './outputs/text-socket';
import type { ServedSpec } from './service/served-instance';
import { collectGarbagePeriodically, holdCollections, releaseCollections } from './service/collect-garbage';
import { holdBuilds, releaseBuilds } from './engine/deferred-builds';
import { Supervisor } from './service/supervisor';
import { startUbusObject } from './outputs/ubus-object';
import { writeLine } from './write-line';

function fail(err: unknown): never {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else if (err instanceof UsageError) process.stderr.write(`bpfcountd: ${err.message} (see bpfcountd -h)\n`);
  else process.stderr.write(`bpfcountd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
}

/**
 * Where log lines go: stderr while validating or reading a file (stdout carries the result), stdout
 * once serving, since procd logs a service's stdout as info and its stderr as errors. Fatal errors
 * (fail()) always go to stderr.
 */
let logFd: 1 | 2 = 2;

function log(message: string): void {
  writeLine(logFd, `bpfcountd: ${message}\n`);
}

function requireInterface(iface: string): void {
  if (!interfaceExists(iface)) throw new ConfigError(iface, 'no such network interface');
}

/** -r and --check: the rules expanded once, one capture set, no socket. */
function openCaptureSet(options: Options): CaptureSet {
  let mac = options.mac;
  let spec: CaptureSetSpec;
  if (options.readFile !== undefined) {
    const rules = expandRules(readFilterFile(options.filterFile as string), mac);
    spec = { name: basename(options.readFile), source: { kind: 'file', path: options.readFile }, prefilter: options.prefilter, rules };
  } else {
    const ifname = options.iface as string;
    requireInterface(ifname);
    mac ??= interfaceMac(ifname);
    const rules = expandRules(readFilterFile(options.filterFile as string), mac);
    spec = { name: ifname, source: { kind: 'live', ifname, bufferSize: options.bufferSize }, prefilter: options.prefilter, rules };
  }
  return openChecked(spec);
}

/** A capture set opened once, with a checker of its own. */
function openChecked(spec: CaptureSetSpec): CaptureSet {
  const set = new CaptureSet(spec, new Counters(spec.rules.length));
  set.open(new ExpressionChecker());
  return set;
}

function counterLines(set: CaptureSet): CounterLine[] {
  const { bytes, packets } = set.counters;
  return set.spec.rules.map((rule, slot) => ({ id: rule.id, bytes: bytes[slot], packets: packets[slot] }));
}

/** `-c ... --check`: every section as it would run now (sections whose interface is missing are only parsed). */
function checkService(options: Options): void {
  const specs = serviceSpecs(options)();
  for (const spec of specs) {
    const mac = interfaceMac(spec.ifname);
    if (mac === undefined) {
      expandRules(spec.rules, '00:00:00:00:00:00');
      process.stdout.write(`instance ${spec.name}: interface ${spec.ifname} missing: would wait for it (${spec.rules.length} rules)\n`);
      continue;
    }
    const set = openChecked({ name: spec.name, prefilter: spec.prefilter, rules: expandRules(spec.rules, mac),
      source: { kind: 'live', ifname: spec.ifname, bufferSize: spec.bufferSize } });
    process.stdout.write(describePlan(set));
    set.close();
  }
}

function singleInterfaceSpecs(options: Options): () => ServedSpec[] {
  const ifname = options.iface as string;
  return () => [{
    name: ifname, ifname, prefilter: options.prefilter, bufferSize: options.bufferSize,
    socketPath: options.socketPath, rules: readFilterFile(options.filterFile as string), mac: options.mac,
  }];
}

/** `option ubus_socket` of the first section that sets it (the object is one for the whole daemon). */
let configuredUbusSocket: string | undefined;
/** UCI's metrics options: of the configuration in use, and of the one a reload has just read. */
let configuredMetrics: MetricsOptions = {};
let loadedMetrics: MetricsOptions = {};

/** The command line wins over UCI, option by option. */
function metricsSettings(options: Options): MetricsSettings {
  return {
    listen: options.metricsListen ?? configuredMetrics.listen?.value,
    textfile: options.metricsTextfile ?? configuredMetrics.textfile?.value,
    intervalSeconds: options.metricsInterval ?? configuredMetrics.interval?.value ?? DEFAULT_METRICS_INTERVAL_S,
  };
}

function serviceSpecs(options: Options): () => ServedSpec[] {
  const configPaths = options.configPaths.length > 0 ? options.configPaths : defaultConfigPaths();
  const runtimeDir = options.runtimeDir ?? DEFAULT_RUNTIME_DIR;
  return (warn = log) => {
    const specs = loadServiceConfig({ configPaths, runtimeDir, warn });
    configuredUbusSocket ??= specs.find((spec) => spec.ubusSocket !== undefined)?.ubusSocket;
    // Sections that disagree make the configuration invalid (start refused, reload refused).
    loadedMetrics = serviceMetrics(specs);
    return specs.map((spec) => ({
      name: spec.name, ifname: spec.ifname, prefilter: spec.prefilter, bufferSize: spec.bufferSize,
      socketPath: spec.socketPath, rules: spec.rules,
    }));
  };
}

/** The start's garbage is collected this long after serving begins: first answers before housekeeping. */
const START_COLLECTION_DELAY_MS = 3000;
/** The ubus object registers this long after the sockets serve (see serve()). */
const UBUS_START_DELAY_MS = 1000;
/** The captures' generated matchers and kernel filters are built this long after the sockets serve (engine/deferred-builds.ts). */
const BUILDS_START_DELAY_MS = 1000;

async function serve(options: Options, service: boolean): Promise<void> {
  logFd = 1;
  let ubus: { close(): void } | undefined;
  let metrics: MetricsOutputs | undefined;
  let started = false;
  let reloadWanted = false;
  const supervisor = new Supervisor({
    loadSpecs: service ? serviceSpecs(options) : singleInterfaceSpecs(options),
    log,
    hotplug: service,
    // Metrics options change with the configuration they came with, not before it is checked.
    onReloadAccepted: () => {
      configuredMetrics = loadedMetrics;
      metrics?.apply(metricsSettings(options)).catch((err: unknown) => log(err instanceof Error ? err.message : String(err)));
    },
    onFatal: (err) => {
      metrics?.close();
      supervisor.stop();
      removePidFile(options.pidFile);
      fail(err);
    },
  });
  const stop = (code: number): void => {
    ubus?.close();
    metrics?.close();
    supervisor.stop();
    removePidFile(options.pidFile);
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  // Installed before the pid file exists: the init script signals only after that.
  process.on('SIGHUP', () => {
    if (started) supervisor.reload();
    else reloadWanted = true;
  });
  if (options.pidFile !== undefined) {
    const pidFile = options.pidFile;
    writePidFile(pidFile);
    // The init script finds the daemon through it: removed with the runtime directory, it is written again.
    // A failure is said once, not at every check (as an unprivileged user the
    // daemon cannot re-create a removed /var/run/bpfcountd; the init script does).
    let failing = false;
    setInterval(() => {
      if (files().exists(pidFile)) return;
      try {
        writePidFile(pidFile);
        log(`${pidFile} removed by someone else: written again`);
        failing = false;
      } catch (err) {
        if (!failing) log(`${pidFile} removed by someone else: cannot write it again (${(err as NodeJS.ErrnoException).code ?? String(err)}); retrying`);
        failing = true;
      }
    }, SOCKET_WATCH_MS).unref();
  }
  holdCollections();
  holdBuilds();
  try {
    await supervisor.start();
    traceStartup('all sections counting');
    configuredMetrics = loadedMetrics;
    metrics = new MetricsOutputs(supervisor, log);
    await metrics.apply(metricsSettings(options));
  } catch (err) {
    metrics?.close();
    supervisor.stop();
    removePidFile(options.pidFile);
    throw err;
  }
  started = true;
  if (reloadWanted) supervisor.reload();
  const ubusSocket = options.ubusSocket ?? (service ? configuredUbusSocket ?? '' : undefined);
  if (ubusSocket !== undefined) {
    // Connecting loads node:net (2.3 s on emulated mipsel): the counter sockets answer first.
    const ubusStart = setTimeout(() => {
      ubus = startUbusObject({ socketPath: ubusSocket === '' ? undefined : ubusSocket, control: supervisor, log });
    }, UBUS_START_DELAY_MS);
    ubus = { close: () => clearTimeout(ubusStart) };
  }
  collectGarbagePeriodically();
  releaseBuilds(BUILDS_START_DELAY_MS);
  releaseCollections(START_COLLECTION_DELAY_MS);
  const names = supervisor.names();
  traceStartup('serving');
  log(`serving ${names.length} instance${names.length === 1 ? '' : 's'}: ${names.join(', ')}`);
}

function writePidFile(path: string): void {
  files().makeDir(dirname(path), true);
  files().writeFile(path, `${process.pid}\n`);
}

function removePidFile(path: string | undefined): void {
  if (path !== undefined) removeIfPresent(path);
}

async function main(argv: readonly string[]): Promise<void> {
  traceStartup('main');
  const options = parseArgs(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (options.query !== undefined) {
    const sockets = querySockets(options.query, SOCKET_DIR);
    const results = await Promise.all(sockets.map(async (s) => ({ ...s, text: await readSocket(s.path) })));
    process.stdout.write(formatQuery(results, options.json, options.query === ''));
    return;
  }
  const service = options.configPaths.length > 0;
  if (options.check && service) {
    checkService(options);
    return;
  }
  if (options.check) {
    const set = openCaptureSet(options);
    process.stdout.write(describePlan(set));
    set.close();
    return;
  }
  if (options.readFile !== undefined) {
    const set = openCaptureSet(options);
    set.readAll();
    set.close();
    process.stdout.write(formatCounterLines(counterLines(set)));
    return;
  }
  if (!service) requireInterface(options.iface as string);
  await serve(options, service);
}

main(process.argv.slice(2)).catch(fail);
