/** Hand-picked expressions for link types other than Ethernet and for the generated tests. */
export const IP_LEVEL_EXPRS: readonly string[] = [
  'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'rarp', 'not ip', 'ip or ip6', 'not (ip or ip6)',
  'host 10.0.0.1', 'src host 10.0.0.2', 'dst host 224.0.0.251', 'host fe80::1', 'dst host ff02::1', 'src host ::',
  'net 10.0.0.0/8', 'src net 192.168', 'net 2001:db8::/32', 'dst net ff02::/16', 'net 127',
  'port 53', 'tcp port 22', 'udp port 5353', 'src port 68', 'dst port 67', 'portrange 1-1024', 'tcp portrange 100-200', 'port 179', 'udp port 6696',
  'ip multicast', 'ip6 multicast', 'ether multicast', 'ether broadcast', 'ether host 02:ca:fe:00:00:01',
  'ip[9] = 6', 'ip[0] & 0xf > 5', 'ip[6:2] & 0x1fff != 0', 'ip6[6] = 17', 'ip6[40] = 135', 'icmp6 and ip6[40] == 134',
  'tcp[13] & 2 != 0', 'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn', 'udp[8:2] > 0', 'udp[2:2] = 53', 'icmp[icmptype] = icmp-echo',
  'icmp6[icmp6type] = icmp6-neighborsolicit', 'len > 100', 'less 100', 'greater 1000', 'len - 20 > 60',
  'ip proto 6', 'ip6 proto 58', 'proto 17', 'ip protochain 17', 'ip6 protochain 17', 'ip6 protochain 58',
  'link[0] = 0', 'link[0:2] = 4', 'ether[0] & 1 = 1', 'ether proto 0x86dd', 'vlan', 'mpls', 'pppoes', 'llc',
  'inbound', 'outbound', 'ifindex 1',
  'udp and port 53 and ((udp[11]&0x80) != 0x80 or (ip6[51]&0x80) != 0x80)', 'udp and port 53 and (udp[10]&0x80) = 0x80',
  'ip[2:2] / 0 = 1', 'ip[0] % (ip[1] & 0) = 0', 'ip[0] << 32 = 0', 'ip[0] >> ip[1] = 0', '-ip[0] > 100', 'ip[0]*0x10000001 > 7',
  // libpcap's grammar gives % and ^ no precedence: a % b * c is a % (b * c), a + b ^ c is a + (b ^ c).
  'len % 7 * 2 = 4', 'len * 3 % 7 = 3', 'ip[0] % 3 - 1 = 0', 'len + 2 ^ 3 > 100', 'len ^ 1 + 1 > 100', 'ip[2:2] ^ 1 & 0xff = 0', 'len - 1 % 5 * 2 > 50',
  // The right operand of binary arithmetic loses its protocol check (libpcap's gen_arth keeps the left one's only).
  '0 & carp[7] = 0', 'ip[0] + udp[0] > 0', '0 = 0 & udp[0]', 'len + tcp[13] > 0', 'ip6[6] + icmp6[0] > 0',
  'ether[2000] = 0 or ip', 'ip or ether[2000] = 0', 'not ether[2000] = 0', 'tcp[100:4] = 0 or udp',
];
