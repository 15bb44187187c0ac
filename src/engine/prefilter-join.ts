/**
 * A rule evaluated by its own libpcap handle must also honour the user's
 * prefilter, as one kernel filter. In the C original the prefilter and the
 * rule were separate programs, so the join must not let one change the
 * other's offsets: `vlan`, `mpls`, `pppoes`, `geneve` (and `vxlan`) shift
 * every load that follows them in the text.
 */
const OFFSET_SHIFTING = /(^|[^\w.-])(vlan|mpls|pppoes|geneve|vxlan)($|[^\w.-])/;

export function shiftsOffsets(expr: string): boolean {
  return OFFSET_SHIFTING.test(expr);
}

export interface JoinedFilter {
  filter: string;
  /** Set when no join is exactly the separate evaluation. */
  warning?: string;
}

export function joinPrefilter(prefilter: string, rule: string): JoinedFilter {
  if (prefilter.trim() === '') return { filter: rule };
  // Whatever comes second is evaluated with the first one's shifts.
  if (!shiftsOffsets(rule)) return { filter: `(${rule}) and (${prefilter})` };
  if (!shiftsOffsets(prefilter)) return { filter: `(${prefilter}) and (${rule})` };
  return {
    filter: `(${prefilter}) and (${rule})`,
    warning: 'both the prefilter and the rule shift offsets (vlan/mpls/pppoes/geneve); the rule is evaluated after the prefilter\'s shifts',
  };
}
