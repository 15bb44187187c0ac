/** Names of the DLT numbers users meet, for messages. */
const NAMES: Record<number, string> = {
  0: 'NULL', 1: 'EN10MB', 12: 'RAW', 14: 'RAW', 101: 'RAW', 108: 'LOOP', 113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIO', 276: 'LINUX_SLL2',
};

export function describeLinkType(linkType: number): string {
  return NAMES[linkType] ?? `DLT ${linkType}`;
}
