#!/bin/busybox sh
# shellcheck shell=dash
# Start-up and memory rounds in the qemu-system guest (test/cross/bench.sh boots
# it; run by guest-init.sh instead of the checks when /etc/bench.env exists).
# Alternates, round after round, so that drift of the emulator's speed hits all
# of them alike:
#   node -e 0                  TIME (exec to exit)
#   bpfcountd -h               TIME (Node plus loading the bundle)
#   idle node                  RssAnon once settled
#   bpfcountd, 1 section       exec->counting (the section counted a frame), then RssAnon once settled
#   bpfcountd, 8 sections      exec->counting (every section counted a frame), then RssAnon once settled
# and then one traced start of eight sections (BPFCOUNTD_TRACE_STARTUP=1, see
# src/startup-trace.ts): its 'trace:' lines give the phases.
# Lines: 'XBENCH <round> <what> <probe output>'. Sourced by guest-init.sh, whose stop() and
# pid_of() it uses.
# shellcheck source=/dev/null # written by test/cross/bench.sh
. /etc/bench.env

bench() { echo "XBENCH $*"; }
eight() {
	# shellcheck disable=SC2086 # one word per option
	out=$(probe start -t veth1 -t veth3 -t veth5 -t veth7 -s /tmp/s0.sock -s /tmp/s1.sock -s /tmp/s2.sock -s /tmp/s3.sock \
		-s /tmp/s4.sock -s /tmp/s5.sock -s /tmp/s6.sock -s /tmp/s7.sock -w 600 -- /usr/bin/node $NODE_OPTIONS_OF_WRAPPER /usr/sbin/bpfcountd -c /etc/config/sections8)
}

r=1
while [ "$r" -le "$BENCH_RUNS" ]; do
	bench "$r" node-e-0 "$(probe time -- /usr/bin/node -e 0)"
	# shellcheck disable=SC2086 # one word per option
	bench "$r" help "$(probe time -- /usr/bin/node $NODE_OPTIONS_OF_WRAPPER /usr/sbin/bpfcountd -h | tail -n 1)"
	node -e 'setInterval(() => {}, 1000)' &
	idle=$!
	bench "$r" idle "$(probe settle "$idle")"
	stop "$idle"
	# shellcheck disable=SC2086 # one word per option
	out=$(probe start -t veth1 -s /tmp/s0.sock -w 600 -- /usr/bin/node $NODE_OPTIONS_OF_WRAPPER /usr/sbin/bpfcountd -c /etc/config/sections1)
	bench "$r" start1 "$out"
	pid=$(pid_of "$out")
	if [ -n "$pid" ]; then
		bench "$r" mem1 "$(probe settle "$pid")"
		stop "$pid"
	fi
	eight
	bench "$r" start8 "$out"
	pid=$(pid_of "$out")
	if [ -n "$pid" ]; then
		bench "$r" mem8 "$(probe settle "$pid")"
		stop "$pid"
	fi
	r=$((r + 1))
done
export BPFCOUNTD_TRACE_STARTUP=1
eight
bench trace start8 "$out"
pid=$(pid_of "$out")
if [ -n "$pid" ]; then
	bench trace mem8 "$(probe settle "$pid")"
	stop "$pid"
fi
bench "done"
