/**
 * The kernel filter of the shared capture: only packets some rule can count
 * are copied to user space, so unicast traffic stays in the kernel.
 *
 *   (prefilter) and ((rule 1) or (rule 2) or ... or vlan)
 *
 * - Exact for untagged frames when no rule shifts offsets (vlan, mpls,
 *   pppoes, geneve shift every load after them in the text, also across
 *   `or`): a single shifting rule can still go last.
 * - `or vlan` on Ethernet: the kernel sees VLAN-tagged frames with the tag
 *   stripped, user space sees them with the tag (as in a capture file), so
 *   tagged frames always go up and the JavaScript engine decides exactly.
 * - Small routers accept only so large a socket filter (optmem_max 10240
 *   bytes on 32-bit kernels, about 8 bytes an instruction); past a budget
 *   the rules are made coarser, always to a superset: comparisons of packet
 *   bytes are dropped first (true where they count for a match, false under
 *   `not`), then everything but protocol and broadcast/multicast tests.
 */
import type { Expr } from '../filter/ast';
import { parseFilter } from '../filter/parse';

export interface SharedFilter {
  /** '' = no kernel filter. */
  filter: string;
  /** How the filter relates to the rules, for --check. */
  note: string;
}

/** Estimated BPF instructions that fit a 32-bit router's optmem with room to spare. */
export const INSTRUCTION_BUDGET = 900;
const DLT_EN10MB = 1;

type Tri = Expr | boolean;
type Level = 'exact' | 'no-comparisons' | 'protocols';

export function sharedKernelFilter(prefilter: string, ruleExprs: readonly string[], linkType: number): SharedFilter {
  const base = prefilter.trim();
  const onlyPrefilter = (why: string): SharedFilter => ({ filter: base, note: why });
  if (ruleExprs.length === 0) return onlyPrefilter('no rule');
  if (base !== '' && hasShift(parse(base))) return onlyPrefilter('the prefilter shifts offsets: rules are not joined to it');

  const rules = ruleExprs.map((text) => ({ text, ast: parse(text) }));
  if (rules.some((r) => r.ast === undefined)) return onlyPrefilter('a rule cannot be analysed');
  const plain = rules.filter((r) => !hasShift(r.ast));
  const shifting = rules.filter((r) => hasShift(r.ast));
  if (shifting.length > 1) return onlyPrefilter('more than one rule shifts offsets (vlan/mpls/pppoes/geneve)');
  if (plain.some((r) => r.ast === null)) return onlyPrefilter('a rule matches every packet');

  const tagged = linkType === DLT_EN10MB ? ['vlan'] : [];
  for (const level of ['exact', 'no-comparisons', 'protocols'] as Level[]) {
    const terms: string[] = [];
    let everything = false;
    for (const { text, ast } of plain) {
      if (level === 'exact') {
        terms.push(text);
        continue;
      }
      const coarse = coarsen(ast as Expr, level, true);
      if (coarse === true) everything = true;
      else if (coarse !== false) terms.push(print(coarse));
    }
    if (everything) return onlyPrefilter(`a rule made coarse at level '${level}' matches everything`);
    // The shifting rule goes last, where its shifts reach nothing else; `vlan` shifts nothing after it.
    const unique = [...new Set(terms)];
    if (shifting.length === 1) unique.push(shifting[0].text);
    unique.push(...tagged);
    const joined = unique.map((t) => `(${t})`).join(' or ');
    const estimate = estimateInstructions(unique) + (base === '' ? 0 : 4 * countNodes(parse(base) ?? null));
    if (estimate > INSTRUCTION_BUDGET) continue;
    const filter = base === '' ? joined : `(${base}) and (${joined})`;
    const how = level === 'exact' ? 'exactly the packets some rule can match' : `a superset (${level})`;
    return { filter, note: `${how}${tagged.length ? ', plus VLAN-tagged frames' : ''}; about ${estimate} BPF instructions` };
  }
  return onlyPrefilter(`the rules exceed the kernel filter budget of ${INSTRUCTION_BUDGET} instructions even when coarse`);
}

function parse(expr: string): Expr | null | undefined {
  try {
    return parseFilter(expr);
  } catch {
    return undefined;
  }
}

function hasShift(ast: Expr | null | undefined): boolean {
  if (!ast) return false;
  switch (ast.kind) {
    case 'shift': return true;
    case 'and': case 'or': return hasShift(ast.left) || hasShift(ast.right);
    case 'not': return hasShift(ast.arg);
    default: return false;
  }
}

/**
 * Replaces what a level drops by the constant that keeps a superset:
 * true where the node counts toward a match (positive), false under an odd
 * number of `not`s.
 */
function coarsen(ast: Expr, level: Level, positive: boolean): Tri {
  switch (ast.kind) {
    case 'and': case 'or': {
      const left = coarsen(ast.left, level, positive);
      const right = coarsen(ast.right, level, positive);
      return combine(ast.kind, left, right);
    }
    case 'not': {
      const arg = coarsen(ast.arg, level, !positive);
      return typeof arg === 'boolean' ? !arg : { kind: 'not', arg };
    }
    case 'proto': case 'broadcast': case 'multicast':
      return ast.kind !== 'proto' && ast.proto === 'ip' ? positive : ast;
    case 'rel': case 'byte':
      return positive;
    case 'addr':
      if (level === 'no-comparisons' && printable(ast)) return ast;
      // `udp port 53` implies `udp`: weaker where it counts for a match, dropped (false) under `not`.
      if (positive && ast.q.proto !== null && STANDALONE_PROTOCOLS.has(ast.q.proto)) return { kind: 'proto', name: ast.q.proto, pos: ast.pos };
      return positive;
    default:
      return positive;
  }
}

/** Protocol qualifiers that are also filters of their own. */
const STANDALONE_PROTOCOLS = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'pim', 'vrrp']);

function combine(kind: 'and' | 'or', left: Tri, right: Tri): Tri {
  if (kind === 'and') {
    if (left === false || right === false) return false;
    if (left === true) return right;
    if (right === true) return left;
  } else {
    if (left === true || right === true) return true;
    if (left === false) return right;
    if (right === false) return left;
  }
  return { kind, left: left as Expr, right: right as Expr };
}

/** Only number-valued ports and hosts/nets written as addresses are printed back. */
function printable(ast: Extract<Expr, { kind: 'addr' }>): boolean {
  return ['num', 'hid', 'hid6', 'eid', 'cidr', 'cidr6'].includes(ast.value.type);
}

/** Prints a tree: the rule's own text is used where it was not changed. */
function print(ast: Expr): string {
  switch (ast.kind) {
    case 'and': case 'or': return `(${print(ast.left)}) ${ast.kind} (${print(ast.right)})`;
    case 'not': return `not (${print(ast.arg)})`;
    case 'proto': return ast.name;
    case 'broadcast': case 'multicast': return `${ast.proto ?? 'ether'} ${ast.kind}`;
    case 'addr': return [ast.q.proto, ast.q.dir, ast.q.addr, ast.value.text].filter((w) => w !== null).join(' ');
    default: throw new Error(`internal: ${ast.kind} is not printed by the prefilter`);
  }
}

function countNodes(ast: Expr | null): number {
  if (!ast) return 0;
  switch (ast.kind) {
    case 'and': case 'or': return countNodes(ast.left) + countNodes(ast.right);
    case 'not': return countNodes(ast.arg);
    default: return 1;
  }
}

/** About 6 instructions a primitive (libpcap: the 17-rule Freifunk OR is 182). */
function estimateInstructions(terms: readonly string[]): number {
  let nodes = 0;
  for (const term of terms) nodes += countNodes(parse(term) ?? null);
  return 6 * nodes + 2;
}
