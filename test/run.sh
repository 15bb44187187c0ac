#!/usr/bin/env bash
# Runs every test suite on the built tree (./build.sh first; `npm test` does both).
#   test/run.sh            all suites: unit, offline, filter, config, ubus, package, fuzz, then as root in network
#                          namespaces live, service, ubus-live, then Node 18, then cross (emulated
#                          arm64 and mipsel: test/cross/run.sh)
#   test/run.sh unit ...   only the named suites
# A suite that is unknown, not built, or runs no test is a failure: nothing passes by running nothing.
# Prints one line per suite with its counts, and a last line 'N passed, N failed' over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

offline_suites="unit offline filter config ubus package fuzz"
live_suites="live service ubus-live"
all_suites="$offline_suites $live_suites node18 cross"
suites=${*:-$all_suites}

for s in $suites; do
	case " $all_suites " in
	*" $s "*) ;;
	*) echo "test/run.sh: unknown suite '$s' (known: $all_suites)" >&2; exit 2 ;;
	esac
	if [ "$s" != node18 ] && [ "$s" != cross ] && [ ! -d "build/test/$s" ]; then
		echo "test/run.sh: suite '$s' is not built (no build/test/$s): run ./build.sh first" >&2
		exit 2
	fi
done
case " $suites " in
*" live "* | *" service "* | *" ubus-live "* | *" cross "*)
	if [ "$(id -u)" != 0 ]; then
		echo "test/run.sh: the live and cross suites need root (network namespaces, veth, tcpreplay; apt-get download)" >&2
		exit 2
	fi ;;
esac

test/oracle/build.sh
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
total_pass=0
total_fail=0
status=0

# Records one suite's counts from the closing lines of node's test runner.
count_suite() {
	local name=$1 log=$2 rc=$3 tests pass fail
	if [ "$name" = node18 ] || [ "$name" = cross ]; then
		# test/node18/run.sh and test/cross/run.sh print '<suite>: tests N fail N ...'.
		tests=$(sed -n "s/^$name: tests \([0-9]*\) fail .*/\1/p" "$log" | tail -n 1)
		fail=$(sed -n "s/^$name: tests [0-9]* fail \([0-9]*\).*/\1/p" "$log" | tail -n 1)
		tests=${tests:-0} fail=${fail:-0}
		pass=$((tests - fail))
	else
		tests=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$log" | tail -n 1)
		pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)
		fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)
		tests=${tests:-0} pass=${pass:-0} fail=${fail:-0}
	fi
	if [ "$tests" -eq 0 ]; then
		summary+=("suite $name: NO TEST RAN")
		status=1
		return
	fi
	[ "$rc" -eq 0 ] || status=1
	summary+=("suite $name: $tests tests, $pass passed, $fail failed$([ "$rc" -eq 0 ] || echo " (exit $rc)")")
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
}

for s in $suites; do
	log="$logs/$s.log"
	rc=0
	case $s in
	node18)
		if [ ! -x test/node18/setup.sh ] || [ ! -x test/node18/run.sh ]; then
			echo "test/run.sh: test/node18/setup.sh or run.sh is missing or not executable" >&2
			exit 2
		fi
		{ test/node18/setup.sh && test/node18/run.sh; } 2>&1 | tee "$log" || rc=$?
		;;
	cross)
		test/cross/run.sh 2>&1 | tee "$log" || rc=$?
		;;
	live | service | ubus-live)
		# One file at a time: they share the machine's CPU and measure exact counts.
		node --test --test-concurrency=1 "build/test/$s" 2>&1 | tee "$log" || rc=$?
		;;
	*)
		node --test "build/test/$s" 2>&1 | tee "$log" || rc=$?
		;;
	esac
	count_suite "$s" "$log" "$rc"
done

printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
exit $status
