/** How a capture file reads: by libpcap (the oracle's records mode) and by the daemon's JavaScript reader. */
import { execFileSync } from 'node:child_process';
import { layoutOfFile, readSavefile, SavefileError } from '../../src/capture/savefile';
import { ORACLE } from './paths';


export interface Packet { caplen: number; wirelen: number; hex: string }
export interface Reading { packets: Packet[]; end: string }

/** libpcap's reading of a file; undefined when libpcap cannot open it. */
export function libpcapReading(path: string): { dlt: number; reading: Reading } | undefined {
  const out = execFileSync(ORACLE, ['records', path], { encoding: 'utf8', maxBuffer: 1 << 28 }).trimEnd().split('\n');
  if (out[0].startsWith('OPEN-ERR')) return undefined;
  const dlt = /^DLT (\d+)$/.exec(out[0]);
  if (!dlt) throw new Error(`oracle said: ${out[0]}`);
  const packets = out.slice(1, -1).map((line): Packet => {
    const [caplen, wirelen, hex] = line.split(' ');
    return { caplen: Number(caplen), wirelen: Number(wirelen), hex: hex ?? '' };
  });
  return { dlt: Number(dlt[1]), reading: { packets, end: out[out.length - 1] } };
}

/** The JavaScript reader's reading; undefined when it leaves the file to libpcap. */
export function javascriptReading(path: string, dlt: number): Reading | undefined {
  const layout = layoutOfFile(path, dlt);
  if (!layout) return undefined;
  const packets: Packet[] = [];
  let end = 'END';
  try {
    readSavefile(path, layout, (buffer, offset, caplen, wirelen) => {
      packets.push({ caplen, wirelen, hex: Buffer.from(buffer.subarray(offset, offset + caplen)).toString('hex') });
    });
  } catch (err) {
    if (!(err instanceof SavefileError)) throw err;
    end = `ERR ${err.message}`;
  }
  return { packets, end };
}
