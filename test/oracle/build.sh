#!/bin/sh
# Builds the libpcap test oracle into build/pcap-oracle (needs libpcap-dev and cc).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build"
out="$root/build/pcap-oracle"
src="$root/test/oracle/pcap-oracle.c"
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
	cc -O2 -Wall -o "$out" "$src" -lpcap
fi
