/**
 * What a veth can carry as is: tcpreplay sends the captured bytes, so a frame
 * must be complete (caplen == wire length), hold an Ethernet header, and fit
 * the link's MTU (9000, set in netns.ts) plus that header.
 */
import type { ClassicCapture } from './pcap';

const MAX_FRAME = 9000 + 14;

/** undefined if every frame can be replayed faithfully, else why not. */
export function replayProblem(capture: ClassicCapture): string | undefined {
  if (capture.linkType !== 1) return `link type ${capture.linkType} is not Ethernet`;
  for (const [i, f] of capture.frames.entries()) {
    if (f.data.length !== f.wirelen) return `frame ${i + 1} is truncated (${f.data.length} of ${f.wirelen} bytes)`;
    if (f.data.length < 14) return `frame ${i + 1} is shorter than an Ethernet header (${f.data.length} bytes)`;
    if (f.data.length > MAX_FRAME) return `frame ${i + 1} (${f.data.length} bytes) exceeds the veth MTU`;
  }
  return undefined;
}
