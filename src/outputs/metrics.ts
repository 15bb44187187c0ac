/**
 * The Prometheus text exposition format (version 0.0.4) of `stats`: what
 * /metrics serves and the node-exporter textfile holds.
 *
 * Every sample has the labels instance and interface, in that order; rule
 * samples then have the rule's labels (rule="<id>", or the id's own label
 * list in the order written; see config/label-list.ts).
 */
import { PLAIN_ID_LABEL, ruleLabels, type Label } from '../config/label-list';
import type { InstanceStats, StatsReply } from '../service/model';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values: backslash, double quote and newline are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * Counters are whole numbers in doubles: printed in full, never with an
 * exponent (String() switches to one from 1e21 on).
 */
export function formatSampleValue(value: number): string {
  if (Number.isSafeInteger(value)) return String(value);
  if (Number.isInteger(value)) return BigInt(value).toString();
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
}

const PACKETS: Family = { name: 'bpfcountd_packets_total', type: 'counter', help: 'Packets that matched the rule.' };
const BYTES: Family = { name: 'bpfcountd_bytes_total', type: 'counter', help: 'Bytes (wire lengths) of the packets that matched the rule.' };
const RECEIVED: Family = { name: 'bpfcountd_received_packets_total', type: 'counter', help: 'Packets the instance\'s captures received, summed over its libpcap handles (pcap_stats ps_recv).' };
const KERNEL_DROPPED: Family = { name: 'bpfcountd_kernel_dropped_packets_total', type: 'counter', help: 'Packets the kernel dropped because a capture buffer was full, summed over the instance\'s libpcap handles (pcap_stats ps_drop).' };
const INTERFACE_DROPPED: Family = { name: 'bpfcountd_interface_dropped_packets_total', type: 'counter', help: 'Packets the interface or its driver dropped, as libpcap reports them (pcap_stats ps_ifdrop).' };
const STATE: Family = { name: 'bpfcountd_instance_state', type: 'gauge', help: 'The instance\'s state: 1 for the current one (running: counting; waiting: its interface is missing or could not be opened).' };

const STATES = ['running', 'waiting'] as const;

function header(f: Family): string {
  return `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
}

function formatLabels(labels: readonly Label[]): string {
  return labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',');
}

/**
 * Formats the exposition; rule label strings are kept between calls (ids
 * rarely change), so a scrape builds little besides the text.
 */
export class MetricsFormatter {
  private readonly ruleLabelText = new Map<string, string>();

  format(stats: StatsReply): string {
    const instances = Object.entries(stats).map(([name, s]) => ({
      s, base: formatLabels([['instance', name], ['interface', s.interface]]),
    }));
    this.forgetStaleIds(instances.map((i) => i.s));
    let text = '';
    for (const [family, key] of [[PACKETS, 'packets'], [BYTES, 'bytes']] as const) {
      text += header(family);
      for (const { s, base } of instances) {
        for (const rule of s.rules) text += `${family.name}{${base},${this.labelsOf(rule.id)}} ${formatSampleValue(rule[key])}\n`;
      }
    }
    for (const [family, key] of [[RECEIVED, 'received'], [KERNEL_DROPPED, 'dropped'], [INTERFACE_DROPPED, 'ifdropped']] as const) {
      text += header(family);
      for (const { s, base } of instances) text += `${family.name}{${base}} ${formatSampleValue(s.drops[key])}\n`;
    }
    text += header(STATE);
    for (const { s, base } of instances) {
      for (const state of STATES) text += `${STATE.name}{${base},state="${state}"} ${s.state === state ? 1 : 0}\n`;
    }
    return text;
  }

  private labelsOf(id: string): string {
    let text = this.ruleLabelText.get(id);
    if (text === undefined) {
      let labels: Label[];
      try {
        labels = ruleLabels(id);
      } catch {
        // The configuration refuses such ids (filter-file.ts); a scrape must not fail on one anyway.
        labels = [[PLAIN_ID_LABEL, id]];
      }
      text = formatLabels(labels);
      this.ruleLabelText.set(id, text);
    }
    return text;
  }

  /** Reloads may replace every id: the cache must not grow with each one. */
  private forgetStaleIds(instances: readonly InstanceStats[]): void {
    let rules = 0;
    for (const s of instances) rules += s.rules.length;
    if (this.ruleLabelText.size > 2 * rules + 64) this.ruleLabelText.clear();
  }
}
