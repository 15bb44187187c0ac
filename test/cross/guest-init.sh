#!/bin/busybox sh
# shellcheck shell=dash
# /init of the qemu-system guest that test/cross/system.sh builds. Prints
# 'XARCH ...' lines on the console for the host to parse, then powers off.
# Everything happens inside the guest: veth pairs, no network device.
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /usr/local/bin
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
# node's options for the daemon, those of the package's wrapper (files/usr/sbin/bpfcountd;
# test/unit/wrapper-options.test.ts keeps the two the same).
NODE_OPTIONS_OF_WRAPPER="--single-threaded --no-sparkplug"
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
# Debian's multiarch library directory (no ld.so.cache in this root).
export LD_LIBRARY_PATH=/usr/lib/mipsel-linux-gnu
mkdir -p /var/run
# shellcheck source=/dev/null # written by test/cross/system.sh
. /etc/xarch.env

say() { echo "XARCH $*"; }
# Stops a daemon the probe started (its parent is this shell) and waits until it is gone.
stop() {
	kill "$1" 2>/dev/null
	local waited=0
	while [ -d "/proc/$1" ] && [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ] && [ $waited -lt 100 ]; do
		sleep 0.1; waited=$((waited + 1))
	done
}
pid_of() { echo "$1" | sed -n 's/^START pid=\([0-9]*\).*/\1/p'; }
# What a daemon that never counted is doing.
diagnose() {
	case $2 in *count_ms=-1*) ;; *) return ;; esac
	say diag "$(grep -E '^(State|VmRSS|Threads)' "/proc/$1/status" | tr -s '\t\n' '  ')" \
		"utime+stime $(cut -d' ' -f14,15 "/proc/$1/stat")" "wchan $(cat "/proc/$1/wchan")"
	say diag "$(tr -s ' \n' ' ' </proc/net/packet)"
}

say kernel "$(uname -m) $(uname -r)" cpus "$(grep -c ^processor /proc/cpuinfo)" "$(grep MemTotal /proc/meminfo | tr -s ' ')"
say node "$(node -p 'process.arch + " " + process.version')"
# No IPv6 (router solicitations, MLD) and no addresses: the veths carry only what the probe sends.
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
insmod /lib/modules/veth.ko || dmesg | tail -n 20
# busybox ip cannot name a veth peer: the kernel names it veth<lowest free>, the other end is renamed.
for p in 0 2 4 6; do
	ip link add vtmp type veth
	ip link set vtmp name "veth$((p + 1))"
	[ "$(cat "/sys/class/net/veth$p/iflink")" = "$(cat "/sys/class/net/veth$((p + 1))/ifindex")" ] ||
		say "veth$p is not the peer of veth$((p + 1))"
	ip link set "veth$p" up
	ip link set "veth$((p + 1))" up
done
say links "$(cd /sys/class/net && echo *)"
ip link set lo up
export NODE_PATH=/usr/lib/node

# test/cross/bench.sh: measurement rounds only.
if [ -f /etc/bench.env ]; then
	# shellcheck source=/dev/null # copied by test/cross/system.sh
	. /etc/guest-bench.sh
	poweroff -f
fi

# 1. Live: two sections on veth0. Warm-up frames (EtherType 0x88b5, counted only
#    by 'warm') go into veth0 until both sections count; then the known frames.
# shellcheck disable=SC2086 # one word per option
# The pid file (in a directory the daemon creates) checks src/files.ts's writes with this CPU's open() flags.
out=$(probe start -k warm -t veth1 -s /tmp/all.sock -s /tmp/in.sock -w 300 -- /usr/bin/node $NODE_OPTIONS_OF_WRAPPER /usr/sbin/bpfcountd -c /etc/config/live --pid-file /tmp/run/live/bpfcountd.pid)
say startlive "$out"
pid=$(pid_of "$out")
say pidfile "pid=$pid file=$( (tr -d '\n' </tmp/run/live/bpfcountd.pid) 2>&1)"
diagnose "$pid" "$out"
probe send veth1 arp "$IN_ARP" "$ARP_LEN"
probe send veth1 udp9 "$IN_UDP" "$IN_UDP_LEN"
probe send veth0 arp "$OUT_ARP" "$ARP_LEN"
probe send veth0 udp9 "$OUT_UDP" "$OUT_UDP_LEN"
sleep 2
for s in all in; do
	probe read "/tmp/$s.sock" | while read -r line; do say count "$s" "$line"; done
done
[ -n "$pid" ] && stop "$pid"

# 2. An idle Node: its memory once settled.
node -e 'setInterval(() => {}, 1000)' &
idle=$!
say idle "$(probe settle "$idle")"
stop "$idle"

# 3. Node's own start-up, three times.
for i in 1 2 3; do say node-e-0 "$(probe time -- /usr/bin/node -e 0)"; done

# 4. The daemon with the shipped rules: one section, then eight.
# The daemon on the sections of /etc/config/sections$n, watched by the probe.
start_sections() {
	# shellcheck disable=SC2086 # one word per option
	probe start $ifs $socks -w 600 -- /usr/bin/node $NODE_OPTIONS_OF_WRAPPER /usr/sbin/bpfcountd -c "/etc/config/sections$n"
}
for n in 1 8; do
	socks="" ifs=""
	i=0
	while [ $i -lt "$n" ]; do
		socks="$socks -s /tmp/s$i.sock"
		[ $((i % 2)) = 1 ] && ifs="$ifs -t veth$i"
		i=$((i + 1))
	done
	[ "$n" = 1 ] && ifs="-t veth1"
	out=$(start_sections)
	say "start$n" "$out"
	pid=$(pid_of "$out")
	diagnose "$pid" "$out"
	if [ -n "$pid" ]; then
		say "mem$n" "$(probe settle "$pid")"
		stop "$pid"
	fi
	# Two more starts of the same kind, timed only: node -e 0 is taken as the best of three, so is this.
	for _ in 2 3; do
		out=$(start_sections)
		say "again$n" "$out"
		pid=$(pid_of "$out")
		[ -n "$pid" ] && stop "$pid"
	done
done
say "done"
poweroff -f
