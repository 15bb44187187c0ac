/**
 * The command line: the C original's flags (-i -f -F -b -u -h) and ours.
 * Parsed getopt-style: `-i eth0` and `-ieth0`, `--mac x` and `--mac=x`.
 */
import { allChars, hexGroups, isDigit, isLetter } from './chars';
import { DEFAULT_METRICS_INTERVAL_S, parseListenAddress, parseMetricsInterval, type ListenAddress } from './config/metrics-options';

export interface Options {
  iface?: string;
  filterFile?: string;
  prefilter: string;
  bufferSize: number;
  socketPath: string;
  readFile?: string;
  mac?: string;
  check: boolean;
  help: boolean;
  configPaths: string[];
  runtimeDir?: string;
  pidFile?: string;
  /** undefined = ubus off (single-interface default); '' = default ubus socket path. */
  ubusSocket?: string;
  /** --query: '' = every socket, else a section name or socket path. */
  query?: string;
  json: boolean;
  /** --metrics-listen: serve /metrics and /stats.json there. */
  metricsListen?: ListenAddress;
  /** --metrics-textfile: rewrite this node-exporter textfile every metricsInterval seconds. */
  metricsTextfile?: string;
  metricsInterval?: number;
}

export const DEFAULT_BUFFER_SIZE = 2 * 1024 * 1024;
export const DEFAULT_SOCKET = './test.sock';

export const USAGE = `usage: bpfcountd -i <interface> -f <filterfile> [-F <prefilter>] [-b <bytes>] [-u <socket>]
       bpfcountd -r <capture file> -f <filterfile> [-F <prefilter>] [--mac <addr>]
       bpfcountd -c <uci config> [-c ...] [--runtime-dir <dir>]
       bpfcountd --query [<section>|<socket>] [--json]
       add --check to any of them to validate and show how each rule is evaluated

  -i <interface>     capture on this interface
  -f <filterfile>    rules, one per line: <id>;<tcpdump filter expression>
                     ($MAC = the interface's MAC, \${id} = an earlier rule)
  -F <prefilter>     kernel filter applied before all rules (e.g. 'inbound')
  -b <bytes>         capture buffer size (default ${DEFAULT_BUFFER_SIZE})
  -u <socket>        unix socket for the counters (default ${DEFAULT_SOCKET})
  -r <file>          count a pcap/pcapng file, print <id>:<bytes>:<packets> lines, exit
  --mac <addr>       the value of $MAC when there is no -i
  --check            load and compile everything, print the plan, exit (1 if invalid)
  -c <path>          service mode: serve every enabled section of a UCI config
  --runtime-dir <d>  service mode: sections started/stopped by the init script
  --pid-file <path>  write the process id there once SIGHUP is handled
  --ubus[=<socket>]  register the 'bpfcountd' ubus object (on by default with -c)
  --query [<target>] print the counters of a running daemon: a section's socket
                     (/var/run/bpfcountd/<section>.sock), a socket path, or every socket
  --json             with --query: {"<section>": {"<rule>": {"bytes": n, "packets": n}}}
  --metrics-listen <host:port>
                     serve Prometheus metrics at http://<host:port>/metrics and the stats
                     as JSON at /stats.json (off by default; e.g. 127.0.0.1:9102)
  --metrics-textfile <path>
                     write the metrics to this node-exporter textfile (*.prom), atomically
  --metrics-interval <s>
                     how often the textfile is rewritten (default ${DEFAULT_METRICS_INTERVAL_S})
  -h, --help         this help
`;

export class UsageError extends Error {}

type Setter = (options: Options, value: string) => void;

const WITH_VALUE: Record<string, Setter> = {
  '-i': (o, v) => { o.iface = v; },
  '-f': (o, v) => { o.filterFile = v; },
  '-F': (o, v) => { o.prefilter = v; },
  '-b': (o, v) => { o.bufferSize = parseSize(v); },
  '-u': (o, v) => { o.socketPath = v; },
  '-r': (o, v) => { o.readFile = v; },
  '-c': (o, v) => { o.configPaths.push(v); },
  '--mac': (o, v) => { o.mac = parseMac(v); },
  '--runtime-dir': (o, v) => { o.runtimeDir = v; },
  '--pid-file': (o, v) => { o.pidFile = v; },
  '--metrics-listen': (o, v) => {
    const a = parseListenAddress(v);
    if (typeof a === 'string') throw new UsageError(`--metrics-listen: ${a}`);
    o.metricsListen = a;
  },
  '--metrics-textfile': (o, v) => { o.metricsTextfile = v; },
  '--metrics-interval': (o, v) => {
    const s = parseMetricsInterval(v);
    if (typeof s === 'string') throw new UsageError(`--metrics-interval: ${s}`);
    o.metricsInterval = s;
  },
};

export function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    prefilter: '', bufferSize: DEFAULT_BUFFER_SIZE, socketPath: DEFAULT_SOCKET,
    check: false, help: false, configPaths: [], json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') { options.help = true; continue; }
    if (arg === '--check') { options.check = true; continue; }
    if (arg === '--ubus') { options.ubusSocket = ''; continue; }
    if (arg.startsWith('--ubus=')) { options.ubusSocket = arg.slice(7); continue; }
    if (arg === '--json') { options.json = true; continue; }
    if (arg === '--query') {
      // The target is optional: the next argument, unless it is an option.
      options.query = i + 1 < argv.length && !argv[i + 1].startsWith('-') ? argv[++i] : '';
      continue;
    }
    if (arg.startsWith('--query=')) { options.query = arg.slice(8); continue; }
    let name = arg;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) { name = arg.slice(0, eq); value = arg.slice(eq + 1); }
    } else if (arg.length > 2 && arg[0] === '-' && isLetter(arg.charCodeAt(1)) && !LINE_ENDS.includes(arg[2])) {
      name = arg.slice(0, 2);
      value = arg.slice(2);
    }
    const set = WITH_VALUE[name];
    if (!set) throw new UsageError(`unknown option '${arg}'`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option ${name} needs a value`);
      value = argv[++i];
    }
    set(options, value);
  }
  if (!options.help) checkCombination(options);
  return options;
}

function checkCombination(o: Options): void {
  if (o.query !== undefined) {
    if (o.iface !== undefined || o.readFile !== undefined || o.configPaths.length > 0 || o.check) {
      throw new UsageError('--query reads a running daemon: it takes no -i, -r, -c or --check');
    }
    return;
  }
  if (o.json) throw new UsageError('--json goes with --query');
  const metrics = o.metricsListen !== undefined || o.metricsTextfile !== undefined || o.metricsInterval !== undefined;
  if (metrics && (o.readFile !== undefined || o.check)) throw new UsageError('--metrics-* options go with a running daemon (-i or -c), not -r or --check');
  if (o.metricsInterval !== undefined && o.metricsTextfile === undefined && o.configPaths.length === 0) {
    throw new UsageError('--metrics-interval goes with --metrics-textfile');
  }
  const modes = [o.iface !== undefined, o.readFile !== undefined, o.configPaths.length > 0].filter(Boolean).length;
  if (modes === 0) throw new UsageError('give an interface (-i), a capture file (-r) or a config (-c)');
  if (modes > 1) throw new UsageError('-i, -r and -c exclude each other');
  if (o.configPaths.length === 0 && o.filterFile === undefined) throw new UsageError('missing -f <filterfile>');
}

/** What `.` in a regular expression does not match: `-ix` with a line end after the letter is no option with a value. */
const LINE_ENDS = '\n\r\u2028\u2029';

function parseSize(value: string): number {
  if (!allChars(value, isDigit) || Number(value) <= 0 || Number(value) > 0x7fffffff) {
    throw new UsageError(`-b: '${value}' is not a buffer size in bytes (1..2147483647)`);
  }
  return Number(value);
}

function parseMac(value: string): string {
  if (!hexGroups(value, ':', 6, 1, 2)) {
    throw new UsageError(`--mac: '${value}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
  return value.toLowerCase();
}
