/**
 * The daemon's instance set from UCI (`config bpfcountd '<name>'` sections)
 * plus the init script's runtime markers, so that one process serves every
 * enabled section (one node process per interface would not fit a router's RAM).
 *
 * Instance set = enabled bpfcountd sections of the main config file(s)
 *   minus the sections with a `stop` marker
 *   plus the sections named by `start <file>` markers (read from that file).
 *
 * Runtime dir (written only by /etc/init.d/bpfcountd): one file per section,
 * named after the section, holding one line:
 *   `start <absolute path of a UCI file>`  started by `start <section>`
 *                                         (the file is $UCI_CONFIG_DIR/bpfcountd)
 *   `stop`                                stopped by `stop <section>`
 * Names starting with `.` are temporary files of an atomic write: ignored.
 */
import { join, resolve } from 'node:path';
import { allChars, hasSpace, isDigit, isWordChar } from '../chars';
import { files, isDirectory, readText } from '../files';
import { ConfigError, oneLine, PLACE_MAX } from './errors';
import { parseRuleLine, readFilterFile, type RuleLine } from './filter-file';
import { parseListenAddress, parseMetricsInterval, type ListenAddress } from './metrics-options';
import { readUciFile, type UciOption, type UciPackage, type UciSection } from './uci';

export interface InstanceSpec {
  name: string;
  ifname: string;
  prefilter: string;
  bufferSize: number;
  socketPath: string;
  ubusSocket?: string;
  /** `option metrics_listen`, `metrics_textfile`, `metrics_interval`: daemon-wide, see serviceMetrics(). */
  metrics: MetricsOptions;
  /** The filterfile's rules, then the section's `list rule` entries; not yet expanded. */
  rules: RuleLine[];
  /** `file:line` of the section. */
  where: string;
}

/** Where the metrics go; each setting with the `file:line` it came from. */
export interface MetricsOptions {
  listen?: { value: ListenAddress; where: string };
  textfile?: { value: string; where: string };
  /** Seconds. */
  interval?: { value: number; where: string };
}

export interface ServiceConfigOptions {
  /** UCI files, or directories meaning `<dir>/bpfcountd`. */
  configPaths: string[];
  runtimeDir?: string;
  /** Non-fatal problems (unknown options, stale runtime markers); default: ignored. */
  warn?: (message: string) => void;
}

export const SECTION_TYPE = 'bpfcountd';
export const DEFAULT_BUFFER_SIZE = 2097152;
export const SOCKET_DIR = '/var/run/bpfcountd';
export const DEFAULT_RUNTIME_DIR = '/var/run/bpfcountd/runtime';
/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const KNOWN_OPTIONS = new Set(['ifname', 'prefilter', 'filterfile', 'buffersize', 'disabled', 'rule', 'socket', 'ubus_socket',
  'metrics_listen', 'metrics_textfile', 'metrics_interval']);

/** `$UCI_CONFIG_DIR/bpfcountd` if UCI_CONFIG_DIR is set (as uci does), else /etc/config/bpfcountd. */
export function defaultConfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = env.UCI_CONFIG_DIR;
  return [join(dir !== undefined && dir !== '' ? dir : '/etc/config', 'bpfcountd')];
}

/** A config argument: a directory means `<dir>/bpfcountd`. Absolute, normalised. */
export function resolveConfigPath(path: string, isDirectory: (p: string) => boolean): string {
  const absolute = resolve(path);
  return isDirectory(absolute) ? join(absolute, 'bpfcountd') : absolute;
}

export type RuntimeMarker = { kind: 'start'; file: string; where: string } | { kind: 'stop'; where: string };

/** Reads the runtime dir; a missing dir means no markers. Malformed entries are warned about and skipped. */
export function readRuntimeMarkers(dir: string, warn: (message: string) => void): Map<string, RuntimeMarker> {
  const markers = new Map<string, RuntimeMarker>();
  let names: string[];
  try {
    names = files().readDir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return markers;
    throw new ConfigError(dir, `cannot read runtime dir (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const where = join(dir, name);
    if (!allChars(name, isWordChar)) {
      warn(`${where}: ignored: not a section name`);
      continue;
    }
    let content: string;
    try {
      content = readText(where, 'utf8');
    } catch (err) {
      // Removed between readdir and read (a concurrent `stop`): nothing to do.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      warn(`${where}: ignored: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      continue;
    }
    const line = content.split('\n')[0].trim();
    if (line === 'stop') {
      markers.set(name, { kind: 'stop', where });
    } else if (line.startsWith('start ') && line.slice(6).trim().startsWith('/')) {
      markers.set(name, { kind: 'start', file: resolve(line.slice(6).trim()), where });
    } else {
      warn(`${where}: ignored: expected 'start <absolute path>' or 'stop', got '${line}'`);
    }
  }
  return markers;
}

export function loadServiceConfig(options: ServiceConfigOptions): InstanceSpec[] {
  const warn = options.warn ?? ((): void => undefined);
  const packages = new Map<string, UciPackage>();
  const load = (file: string): UciPackage => {
    let pkg = packages.get(file);
    if (pkg === undefined) {
      pkg = readUciFile(file);
      packages.set(file, pkg);
    }
    return pkg;
  };

  const mainFiles = options.configPaths.map((p) => resolveConfigPath(p, isDirectory));
  const markers = options.runtimeDir === undefined ? new Map<string, RuntimeMarker>() : readRuntimeMarkers(options.runtimeDir, warn);

  const chosen: UciSection[] = [];
  const mainSeen = new Map<string, UciSection>();
  for (const file of mainFiles) {
    for (const section of load(file).sections) {
      if (section.type !== SECTION_TYPE) continue;
      const earlier = mainSeen.get(section.name);
      if (earlier !== undefined) throw new ConfigError(section.where, `section '${section.name}' is also defined at ${earlier.where}`);
      mainSeen.set(section.name, section);
      const marker = markers.get(section.name);
      if (marker?.kind === 'stop') continue;
      if (marker?.kind === 'start' && marker.file !== file) continue; // started from another file: taken below
      if (isDisabled(section)) continue;
      chosen.push(section);
    }
  }

  for (const [name, marker] of markers) {
    if (marker.kind !== 'start') continue;
    if (mainFiles.includes(marker.file)) {
      // Taken (or found disabled) in the loop above, if the main config has it.
      if (!mainSeen.has(name)) warn(`${marker.where}: section '${name}' skipped: no 'config ${SECTION_TYPE} '${name}'' in ${marker.file}`);
      continue;
    }
    let pkg: UciPackage;
    try {
      pkg = load(marker.file);
    } catch (err) {
      // The starter may have removed its config before `stop`: skip rather than refuse every instance.
      if (err instanceof ConfigError && err.where === oneLine(marker.file, PLACE_MAX)) {
        warn(`${marker.where}: section '${name}' skipped: ${err.message}`);
        continue;
      }
      throw err;
    }
    const section = pkg.sections.find((s) => s.name === name);
    if (section === undefined || section.type !== SECTION_TYPE) {
      warn(`${marker.where}: section '${name}' skipped: no 'config ${SECTION_TYPE} '${name}'' in ${marker.file}`);
      continue;
    }
    if (isDisabled(section)) {
      warn(`${section.where}: section '${name}' is disabled: not started`);
      continue;
    }
    chosen.push(section);
  }

  const instances = chosen.map((section) => instanceFromSection(section, warn));
  const sockets = new Map<string, InstanceSpec>();
  for (const instance of instances) {
    const other = sockets.get(instance.socketPath);
    if (other !== undefined) {
      throw new ConfigError(instance.where, `socket ${instance.socketPath} is also used by section '${other.name}' (${other.where})`);
    }
    sockets.set(instance.socketPath, instance);
  }
  return instances;
}

export function instanceFromSection(section: UciSection, warn: (message: string) => void): InstanceSpec {
  for (const [key, option] of section.options) {
    if (!KNOWN_OPTIONS.has(key)) warn(`${option.where}: unknown option '${key}' in section '${section.name}' ignored`);
  }
  const ifname = single(section, 'ifname');
  if (ifname === undefined) throw new ConfigError(section.where, `section '${section.name}' has no 'option ifname'`);
  if (ifname.value.includes('/') || hasSpace(ifname.value) || ifname.value.length > 15) {
    throw new ConfigError(ifname.where, `invalid interface name '${ifname.value}'`);
  }

  const prefilter = single(section, 'prefilter')?.value ?? '';

  let bufferSize = DEFAULT_BUFFER_SIZE;
  const buffer = single(section, 'buffersize');
  if (buffer !== undefined) {
    if (!allChars(buffer.value, isDigit)) throw new ConfigError(buffer.where, `buffersize '${buffer.value}' is not a number of bytes`);
    bufferSize = Number(buffer.value);
    if (bufferSize < 1 || bufferSize > 0x7fffffff) throw new ConfigError(buffer.where, `buffersize ${buffer.value} out of range (1..2147483647 bytes)`);
  }

  const socket = single(section, 'socket');
  const socketPath = socket?.value ?? `${SOCKET_DIR}/${section.name}.sock`;
  const socketWhere = socket?.where ?? section.where;
  if (!socketPath.startsWith('/')) throw new ConfigError(socketWhere, `socket path '${socketPath}' is not absolute`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError(socketWhere, `socket path '${socketPath}' is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
  }

  const ubus = single(section, 'ubus_socket');
  if (ubus !== undefined && !ubus.value.startsWith('/')) throw new ConfigError(ubus.where, `ubus_socket '${ubus.value}' is not absolute`);

  const metrics = metricsOptions(section);

  const rules: RuleLine[] = [];
  const filterFile = single(section, 'filterfile');
  if (filterFile !== undefined) {
    try {
      rules.push(...readFilterFile(filterFile.value));
    } catch (err) {
      // An unreadable file is reported where it is named; errors inside it keep their own file:line.
      if (err instanceof ConfigError && err.where === oneLine(filterFile.value, PLACE_MAX)) throw new ConfigError(filterFile.where, `filterfile ${err.where}: ${err.reason}`);
      throw err;
    }
  }
  for (const item of values(section.options.get('rule'))) rules.push(parseRuleLine(item.value, item.where));
  if (filterFile === undefined && rules.length === 0) {
    throw new ConfigError(section.where, `section '${section.name}' has neither 'option filterfile' nor 'list rule'`);
  }

  const instance: InstanceSpec = { name: section.name, ifname: ifname.value, prefilter, bufferSize, socketPath, metrics, rules, where: section.where };
  if (ubus !== undefined) instance.ubusSocket = ubus.value;
  return instance;
}

function metricsOptions(section: UciSection): MetricsOptions {
  const metrics: MetricsOptions = {};
  const listen = single(section, 'metrics_listen');
  if (listen !== undefined) {
    const value = parseListenAddress(listen.value);
    if (typeof value === 'string') throw new ConfigError(listen.where, `metrics_listen: ${value}`);
    metrics.listen = { value, where: listen.where };
  }
  const textfile = single(section, 'metrics_textfile');
  if (textfile !== undefined) {
    if (!textfile.value.startsWith('/')) throw new ConfigError(textfile.where, `metrics_textfile '${textfile.value}' is not absolute`);
    metrics.textfile = { value: textfile.value, where: textfile.where };
  }
  const interval = single(section, 'metrics_interval');
  if (interval !== undefined) {
    const value = parseMetricsInterval(interval.value);
    if (typeof value === 'string') throw new ConfigError(interval.where, `metrics_interval: ${value}`);
    metrics.interval = { value, where: interval.where };
  }
  return metrics;
}

/**
 * The daemon has one metrics listener and one textfile for all its
 * instances: sections may each set an option, but must agree on its value.
 */
export function serviceMetrics(instances: readonly InstanceSpec[]): MetricsOptions {
  const merged: MetricsOptions = {};
  const take = <K extends keyof MetricsOptions>(key: K, option: string, spec: InstanceSpec, same: (a: NonNullable<MetricsOptions[K]>, b: NonNullable<MetricsOptions[K]>) => boolean): void => {
    const mine = spec.metrics[key];
    if (mine === undefined) return;
    const earlier = merged[key];
    if (earlier === undefined) merged[key] = mine;
    else if (!same(earlier, mine)) throw new ConfigError(mine.where, `${option} differs from the one at ${earlier.where} (one for the whole daemon)`);
  };
  for (const spec of instances) {
    take('listen', 'metrics_listen', spec, (a, b) => a.value.host === b.value.host && a.value.port === b.value.port);
    take('textfile', 'metrics_textfile', spec, (a, b) => a.value === b.value);
    take('interval', 'metrics_interval', spec, (a, b) => a.value === b.value);
  }
  return merged;
}

/** UCI booleans as OpenWrt's config_get_bool reads them. */
export function parseUciBool(value: string, where: string): boolean {
  switch (value.toLowerCase()) {
    case '1': case 'on': case 'true': case 'yes': case 'enabled':
      return true;
    case '0': case 'off': case 'false': case 'no': case 'disabled':
      return false;
    default:
      throw new ConfigError(where, `'${value}' is not a boolean (use 0 or 1)`);
  }
}

function isDisabled(section: UciSection): boolean {
  const disabled = single(section, 'disabled');
  return disabled !== undefined && parseUciBool(disabled.value, disabled.where);
}

function single(section: UciSection, key: string): { value: string; where: string } | undefined {
  const option = section.options.get(key);
  if (option === undefined) return undefined;
  if (option.kind === 'list') throw new ConfigError(option.where, `'${key}' must be an option, not a list`);
  return option;
}

/** An option counts as a one-item list (as config_list_foreach treats it). */
function values(option: UciOption | undefined): { value: string; where: string }[] {
  if (option === undefined) return [];
  return option.kind === 'list' ? option.items : [{ value: option.value, where: option.where }];
}
