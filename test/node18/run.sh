#!/usr/bin/env bash
# Runs the compiled offline tests and a smoke run of the bundle under Node 18
# (OpenWrt 23.05's Node), with the `pcap` addon built for Node 18.
#
#   test/node18/run.sh            all offline test directories that exist
#   test/node18/run.sh DIR...     only these (paths under the repo root)
#
# NODE18_TEST_TIMEOUT (seconds, default 1200) bounds the node --test run.
# Needs: test/node18/setup.sh and ./build.sh done; the system `node` (Node 20)
# as the reference for the smoke comparison; the captures in test/data/pcaps.
# Exits non-zero when a test fails, when no test ran, or when the bundle's
# output under Node 18 differs from Node 20's.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
pcaps="$root/test/data/pcaps"
node18="$root/build/node18/bin/node"
hook="$root/build/test/node18/pcap-redirect.js"
bundle="$root/dist/bpfcountd.js"
# Directories of offline tests (never build/test/live: it needs root and namespaces); each must exist.
# Not package/: it packs the addon built for the host's own Node (20), which Node 18 cannot load.
offline_areas=(unit offline filter config ubus)

die() { echo "test/node18/run.sh: $*" >&2; exit 1; }

[ -x "$node18" ] && [ -f "$root/build/node18/.setup-done" ] || die "no Node 18 in build/node18: run test/node18/setup.sh first"
[ -f "$hook" ] || die "$hook missing: run ./build.sh first"
[ -f "$bundle" ] || die "$bundle missing: run ./build.sh first"
command -v node >/dev/null || die "no system 'node' for the reference run"
ref_version=$(node -p process.version)
case $ref_version in v18.*) die "the system node is $ref_version too: the smoke comparison needs another major (Node 20)";; esac

cd "$root"
# Hold off test/node18/setup.sh (which may rebuild build/node18) while running.
exec 9>"$root/build/node18.lock"
flock -s 9
# Outputs of this run; kept only when something fails (concurrent runs each get their own).
out=$(mktemp -d "$root/build/node18/run.XXXXXX")
trap 'echo "node18: outputs kept in ${out#"$root"/}" >&2' EXIT
# Every Node 18 process, including the test runner's children and anything a
# test spawns through `node` or process.execPath, loads the Node 18 addon.
# A private copy of the hook: a concurrent ./build.sh empties build/test.
cp "$hook" "$out/pcap-redirect.js"
export BPFCOUNTD_NODE18_MODULES="$root/build/node18/node_modules"
path18="$root/build/node18/bin:$PATH"
options18="${NODE_OPTIONS:-} --require \"$out/pcap-redirect.js\""
run18() { PATH=$path18 NODE_OPTIONS=$options18 "$node18" "$@"; }
echo "node18: $(run18 -p 'process.version + " abi " + process.versions.modules + ", pcap addon " + require.resolve("pcap/build/Release/pcap_binding.node")')"

# 1. The compiled tests. Node 18's --test takes files and directories (no
#    globs) and looks inside directories for *.test.js and the like.
dirs=()
if [ $# -gt 0 ]; then
	for d in "$@"; do [ -d "$d" ] || die "no directory $d"; dirs+=("$d"); done
else
	for area in "${offline_areas[@]}" node18; do
		[ -d "build/test/$area" ] || die "build/test/$area does not exist: run ./build.sh first"
		dirs+=("build/test/$area")
	done
fi
echo "node18: node --test ${dirs[*]}"
status=0
# Node 18 has no --test-timeout: a hung test file would stall CI, so bound the whole run.
limit=${NODE18_TEST_TIMEOUT:-1200}
PATH=$path18 NODE_OPTIONS=$options18 timeout --kill-after=30 "$limit" "$node18" --test \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$out/tests.tap" \
	"${dirs[@]}" || status=$?
count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$out/tests.tap" | tail -n 1; }
tests=$(count tests); fail=$(count fail); cancelled=$(count cancelled); skipped=$(count skipped); todo=$(count todo)
echo "node18: tests ${tests:-?} fail ${fail:-?} cancelled ${cancelled:-?} skipped ${skipped:-?} todo ${todo:-?} (TAP: ${out#"$root"/}/tests.tap)"
# Failures are collected, so the smoke comparison below runs (and reports) anyway.
problems=()
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
	problems+=("the tests did not finish within $limit s (NODE18_TEST_TIMEOUT); the file after the last one reported above hung")
elif [ "$status" -ne 0 ]; then
	problems+=("tests failed under Node 18 (exit $status)")
fi
if [ -z "$tests" ]; then
	problems+=("no test summary from the Node 18 test runner")
elif [ "$tests" -eq 0 ]; then
	problems+=("no test ran under Node 18")
fi
[ "${fail:-0}" = 0 ] && [ "${cancelled:-0}" = 0 ] || problems+=("failed or cancelled tests under Node 18")
[ "${skipped:-0}" = 0 ] && [ "${todo:-0}" = 0 ] || echo "node18: WARNING: $skipped skipped, $todo todo under Node 18" >&2

# 2. The bundle reads captures under Node 18 and Node 20: identical output.
(
rules="$root/test/node18/smoke.rules"
mac=00:0d:88:4f:25:91   # a station in eapon1.pcap, for the $MAC rule
nrules=$(grep -cv '^\s*\(#\|$\)' "$rules")
ids=$(grep -v '^\s*\(#\|$\)' "$rules" | cut -d';' -f1)
for capture in eapon1.pcap various_gre.pcap dcb_ets.pcap afs.pcap dns_tcp.pcap bgp-4byte-asn.pcap; do
	args=(-r "$pcaps/$capture" -f "$rules" --mac "$mac")
	name=${capture%.pcap}
	run18 "$bundle" "${args[@]}" >"$out/$name.node18" 2>"$out/$name.node18.err" || die "Node 18: bpfcountd ${args[*]} failed: $(head -c 2000 "$out/$name.node18.err")"
	node "$bundle" "${args[@]}" >"$out/$name.node20" 2>"$out/$name.node20.err" || die "Node 20: bpfcountd ${args[*]} failed: $(head -c 2000 "$out/$name.node20.err")"
	[ "$(wc -l <"$out/$name.node20")" -eq "$nrules" ] || die "$capture: expected $nrules lines from the bundle, got: $(head -c 2000 "$out/$name.node20")"
	[ "$(cut -d: -f1 "$out/$name.node20")" = "$ids" ] || die "$capture: rule ids not in file order: $(head -c 2000 "$out/$name.node20")"
	diff -u "$out/$name.node20" "$out/$name.node18" >&2 || die "$capture: bundle output differs between Node 20 ($ref_version) and Node 18"
	echo "node18: bundle on $capture: $nrules rules, same output under Node 18 and $ref_version"
done
run18 "$bundle" -r "$pcaps/eapon1.pcap" -f "$rules" --mac "$mac" --check >"$out/check.node18" 2>&1 || die "Node 18: --check failed: $(head -c 2000 "$out/check.node18")"
node "$bundle" -r "$pcaps/eapon1.pcap" -f "$rules" --mac "$mac" --check >"$out/check.node20" 2>&1 || die "Node 20: --check failed: $(head -c 2000 "$out/check.node20")"
diff -u "$out/check.node20" "$out/check.node18" >&2 || die "--check output differs between Node 20 and Node 18"
echo "node18: bundle --check: same plan under Node 18 and $ref_version"
) || problems+=("the bundle smoke comparison failed")

if [ ${#problems[@]} -gt 0 ]; then
	printf 'test/node18/run.sh: %s\n' "${problems[@]}" >&2
	exit 1
fi
trap - EXIT
rm -rf "$out"
echo "node18: OK"
