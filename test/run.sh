#!/bin/sh
# Runs every test suite on the built tree (./build.sh first; `npm test` does both).
#   test/run.sh            all suites: unit, offline, filter, config, ubus, live (root), Node 18
#   test/run.sh unit ...   only the named suites
set -e
cd "$(dirname "$0")/.."
test/oracle/build.sh
suites=${*:-"unit offline filter config ubus live node18"}
dirs=""
for s in $suites; do
	case $s in
	node18|live) ;;
	*) [ -d "build/test/$s" ] && dirs="$dirs build/test/$s" ;;
	esac
done
status=0
if [ -n "$dirs" ]; then
	# shellcheck disable=SC2086 # word splitting of the directory list is wanted
	node --test $dirs || status=1
fi
case " $suites " in
*" live "*)
	if [ "$(id -u)" != 0 ]; then
		echo "live tests need root (network namespaces, veth, tcpreplay)" >&2
		status=1
	elif [ -d build/test/live ]; then
		node --test --test-concurrency=1 build/test/live || status=1
	fi ;;
esac
case " $suites " in
*" node18 "*)
	if [ -x test/node18/setup.sh ]; then
		{ test/node18/setup.sh && test/node18/run.sh; } || status=1
	fi ;;
esac
exit $status
