#!/bin/sh
# Runs every test suite on the built tree (./build.sh first; `npm test` does both).
#   test/run.sh            all suites: unit, offline, filter, config, ubus, then as root in network
#                          namespaces live, service, ubus-live, then Node 18
#   test/run.sh unit ...   only the named suites
set -e
cd "$(dirname "$0")/.."
test/oracle/build.sh
suites=${*:-"unit offline filter config ubus live service ubus-live node18"}
dirs=""
for s in $suites; do
	case $s in
	node18|live|service|ubus-live) ;;
	*) [ -d "build/test/$s" ] && dirs="$dirs build/test/$s" ;;
	esac
done
status=0
if [ -n "$dirs" ]; then
	# shellcheck disable=SC2086 # word splitting of the directory list is wanted
	node --test $dirs || status=1
fi
live=""
for s in live service ubus-live; do
	case " $suites " in *" $s "*) [ -d "build/test/$s" ] && live="$live build/test/$s" ;; esac
done
if [ -n "$live" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "live tests need root (network namespaces, veth, tcpreplay)" >&2
		status=1
	else
		# One at a time: they share the machine's CPU and measure exact counts.
		# shellcheck disable=SC2086 # word splitting of the directory list is wanted
		node --test --test-concurrency=1 $live || status=1
	fi
fi
case " $suites " in
*" node18 "*)
	if [ -x test/node18/setup.sh ]; then
		{ test/node18/setup.sh && test/node18/run.sh; } || status=1
	fi ;;
esac
exit $status
