/**
 * What sysfs says about a Linux interface: whether it exists, its MAC, and
 * the link type libpcap will report for it (so the daemon need not open a
 * throw-away capture to learn it: the `pcap` binding can free a live handle
 * only once a packet reaches it).
 */
import { files, readText } from '../files';
import { DLT } from './binding';

/** ARPHRD_* (include/uapi/linux/if_arp.h) -> DLT, where libpcap's choice is plain. */
const BY_ARPHRD: Record<number, number> = {
  1: DLT.EN10MB, // ARPHRD_ETHER
  772: DLT.EN10MB, // ARPHRD_LOOPBACK: libpcap presents it as Ethernet
  65534: DLT.RAW, // ARPHRD_NONE (tun): bare IP packets
  803: DLT.IEEE802_11_RADIO, // ARPHRD_IEEE80211_RADIOTAP
};

/** undefined when sysfs does not say or the type is one where libpcap decides more subtly. */
export function interfaceLinkType(ifname: string): number | undefined {
  try {
    return BY_ARPHRD[Number(readText(`/sys/class/net/${ifname}/type`, 'utf8').trim())];
  } catch {
    return undefined;
  }
}

export function interfaceExists(ifname: string): boolean {
  return files().exists(`/sys/class/net/${ifname}`);
}

/** Whether the interface is administratively up (IFF_UP); undefined when it is gone. */
export function interfaceIsUp(ifname: string): boolean | undefined {
  try {
    return (Number.parseInt(readText(`/sys/class/net/${ifname}/flags`, 'utf8').trim(), 16) & 1) === 1;
  } catch {
    return undefined;
  }
}

/** `aa:bb:cc:dd:ee:ff`, or undefined when the interface is gone. */
export function interfaceMac(ifname: string): string | undefined {
  try {
    return readText(`/sys/class/net/${ifname}/address`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
