/**
 * Entry point: the modes of the daemon.
 *   -i  single interface, counters on a unix socket (the C original)
 *   -r  count a capture file, print the counters, exit
 *   --check  validate and print how each rule is evaluated
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs, USAGE, UsageError, type Options } from './cli';
import { ConfigError } from './config/errors';
import { expandRules } from './config/expand';
import { readFilterFile } from './config/filter-file';
import { ExpressionChecker } from './capture/validate';
import { Instance, type InstanceSpec } from './engine/instance';
import { describePlan } from './engine/describe';
import { formatCounterLines, TextSocket, type CounterLine } from './outputs/text-socket';

function fail(err: unknown): never {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else if (err instanceof UsageError) process.stderr.write(`bpfcountd: ${err.message} (see bpfcountd -h)\n`);
  else process.stderr.write(`bpfcountd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
}

function interfaceMac(iface: string): string {
  if (!existsSync(`/sys/class/net/${iface}`)) throw new ConfigError(iface, 'no such network interface');
  return readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
}

function singleInstanceSpec(options: Options): InstanceSpec {
  const filterFile = options.filterFile as string;
  const mac = options.mac ?? (options.iface !== undefined ? interfaceMac(options.iface) : undefined);
  const rules = expandRules(readFilterFile(filterFile), mac);
  if (options.readFile !== undefined) {
    return { name: basename(options.readFile), source: { kind: 'file', path: options.readFile }, prefilter: options.prefilter, rules };
  }
  const ifname = options.iface as string;
  return { name: ifname, source: { kind: 'live', ifname, bufferSize: options.bufferSize }, prefilter: options.prefilter, rules };
}

function counterLines(instance: Instance): CounterLine[] {
  const { bytes, packets } = instance.counters;
  return instance.spec.rules.map((rule, slot) => ({ id: rule.id, bytes: bytes[slot], packets: packets[slot] }));
}

function openInstance(spec: InstanceSpec): Instance {
  const instance = new Instance(spec);
  const checker = new ExpressionChecker();
  try {
    instance.open(checker);
  } finally {
    checker.dispose();
  }
  return instance;
}

async function runLive(instance: Instance, socketPath: string): Promise<void> {
  const socket = new TextSocket(socketPath, () => counterLines(instance));
  await socket.listen();
  const ifname = instance.spec.source.kind === 'live' ? instance.spec.source.ifname : '';
  let stopping = false;
  const stop = (code: number, message?: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(watchdog);
    if (message) process.stderr.write(`bpfcountd: ${message}\n`);
    instance.close();
    socket.close();
    process.exit(code);
  };
  const lost = (why: string): void => {
    const gone = !existsSync(`/sys/class/net/${ifname}`);
    stop(1, gone ? `${ifname}: interface vanished, capture stopped` : `${ifname}: ${why}`);
  };
  // libpcap does not always report a deleted interface; look for it ourselves.
  const watchdog = setInterval(() => {
    if (!existsSync(`/sys/class/net/${ifname}`)) lost('interface vanished');
  }, 1000);
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  process.on('SIGHUP', () => process.stderr.write('bpfcountd: SIGHUP ignored in single-interface mode\n'));
  instance.startLive(lost);
  process.stderr.write(`bpfcountd: counting ${instance.spec.rules.length} rules on ${ifname}, socket ${socketPath}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseArgs(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (options.configPaths.length > 0) throw new UsageError('service mode (-c) is not available in this build');
  const instance = openInstance(singleInstanceSpec(options));
  if (options.check) {
    process.stdout.write(describePlan(instance));
    instance.close();
    return;
  }
  if (options.readFile !== undefined) {
    instance.readAll();
    instance.close();
    process.stdout.write(formatCounterLines(counterLines(instance)));
    return;
  }
  await runLive(instance, options.socketPath);
}

main(process.argv.slice(2)).catch(fail);
