#!/usr/bin/env bash
# Summarises the console of a bench boot (test/cross/guest-bench.sh):
# medians with min-max over the rounds, the ratios of issue 14's targets, and
# the phases of the traced start.
#   test/cross/bench-summary.sh CONSOLE.txt
set -euo pipefail
console=$1
tr -d '\r' <"$console" | awk '
function field(line, key,   m) {
	if (match(line, " " key "=[0-9-]+")) { m = substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2); return m + 0 }
	return ""
}
function add(name, v) { if (v == "" || v < 0) return; n[name]++; val[name, n[name]] = v }
function median(name,   i, j, t, k, a) {
	k = n[name]; if (k == 0) return -1
	for (i = 1; i <= k; i++) a[i] = val[name, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	lo[name] = a[1]; hi[name] = a[k]
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function show(name, unit,   m) {
	m = median(name)
	if (m < 0) { printf "bench: %-28s no value\n", name; return -1 }
	printf "bench: %-28s median %8d %s  (min %d, max %d, n=%d)\n", name, m, unit, lo[name], hi[name], n[name]
	return m
}
/^XBENCH [0-9]+ node-e-0 / { add("node -e 0", field($0, "ms")) }
/^XBENCH [0-9]+ help / { add("bpfcountd -h", field($0, "ms")) }
/^XBENCH [0-9]+ idle / { add("idle node RssAnon", field($0, "RssAnon")) }
/^XBENCH [0-9]+ start1 / { add("1 section exec->counting", field($0, "count_ms")) }
/^XBENCH [0-9]+ mem1 / { add("1 section RssAnon", field($0, "RssAnon")) }
/^XBENCH [0-9]+ start8 / { add("8 sections exec->counting", field($0, "count_ms")); add("8 sections exec->socket", field($0, "socket_ms")) }
/^XBENCH [0-9]+ mem8 / { add("8 sections RssAnon", field($0, "RssAnon")); add("8 sections VmHWM", field($0, "VmHWM")) }
# Per round (the rounds alternate, so a slow spell of the host hits both sides of a ratio alike).
/^XBENCH [0-9]+ node-e-0 / { r_node0[$2] = field($0, "ms") }
/^XBENCH [0-9]+ idle / { r_idle[$2] = field($0, "RssAnon") }
/^XBENCH [0-9]+ start1 / { if (r_node0[$2] > 0 && field($0, "count_ms") > 0) add("ratio1", field($0, "count_ms") / r_node0[$2]) }
/^XBENCH [0-9]+ start8 / { if (r_node0[$2] > 0 && field($0, "count_ms") > 0) add("ratio8", field($0, "count_ms") / r_node0[$2]) }
/^XBENCH [0-9]+ mem1 / { if (r_idle[$2] > 0) add("delta1", field($0, "RssAnon") - r_idle[$2]) }
/^XBENCH [0-9]+ mem8 / { if (r_idle[$2] > 0) add("delta8", field($0, "RssAnon") - r_idle[$2]) }
/^XBENCH [0-9]+ (start1|mem1|start8|mem8|idle) / { if (round[$2] == "") order[++rounds] = $2; round[$2] = round[$2] " " $3 ":" (field($0, "count_ms") != "" ? field($0, "count_ms") "ms" : field($0, "RssAnon") "kB") }
/^XBENCH trace / { traced = traced "  " $0 "\n" }
/^trace: / { trace = trace "  " $0 "\n" }
/^XARCH kernel|^XARCH node / { print "bench: " $0 }
END {
	for (i = 1; i <= rounds; i++) printf "bench: round %s:%s\n", order[i], round[order[i]]
	node0 = show("node -e 0", "ms")
	help = show("bpfcountd -h", "ms")
	c1 = show("1 section exec->counting", "ms")
	c8 = show("8 sections exec->counting", "ms")
	show("8 sections exec->socket", "ms")
	idle = show("idle node RssAnon", "kB")
	m1 = show("1 section RssAnon", "kB")
	m8 = show("8 sections RssAnon", "kB")
	show("8 sections VmHWM", "kB")
	if (n["ratio1"] > 0) { m = median("ratio1"); printf "bench: (a) 1 section exec->counting / node -e 0 of the same round: median %.2f (min %.2f, max %.2f; target <= 2)\n", m, lo["ratio1"], hi["ratio1"] }
	if (n["ratio8"] > 0) { m = median("ratio8"); printf "bench: (a) 8 sections exec->counting / node -e 0 of the same round: median %.2f (min %.2f, max %.2f)\n", m, lo["ratio8"], hi["ratio8"] }
	if (n["delta1"] > 0) { m = median("delta1"); printf "bench: RssAnon 1 section - idle node of the same round: median %+d kB (min %+d, max %+d; target <= +4096)\n", m, lo["delta1"], hi["delta1"] }
	if (n["delta8"] > 0) { m = median("delta8"); printf "bench: (b) RssAnon 8 sections - idle node of the same round: median %+d kB (min %+d, max %+d; target <= +8192)\n", m, lo["delta8"], hi["delta8"] }
	if (node0 > 0 && c1 >= 0) printf "bench: medians: 1 section exec->counting / node -e 0 = %.2f (target <= 2; spread: min/max %.2f..%.2f)\n", c1 / node0, lo["1 section exec->counting"] / hi["node -e 0"], hi["1 section exec->counting"] / lo["node -e 0"]
	if (node0 > 0 && c8 >= 0) printf "bench: medians: 8 sections exec->counting / node -e 0 = %.2f (target <= 2; spread: min/max %.2f..%.2f)\n", c8 / node0, lo["8 sections exec->counting"] / hi["node -e 0"], hi["8 sections exec->counting"] / lo["node -e 0"]
	if (node0 > 0 && help >= 0) printf "bench: loading the bundle: bpfcountd -h - node -e 0 = %d ms\n", help - node0
	if (idle > 0 && m1 > 0) printf "bench: RssAnon 1 section - idle node = %+d kB (target <= +4096)\n", m1 - idle
	if (idle > 0 && m8 > 0) printf "bench: medians: RssAnon 8 sections - idle node = %+d kB (target <= +8192; spread: %+d..%+d)\n", m8 - idle, lo["8 sections RssAnon"] - hi["idle node RssAnon"], hi["8 sections RssAnon"] - lo["idle node RssAnon"]
	printf "bench: traced start (BPFCOUNTD_TRACE_STARTUP=1):\n%s%s", trace, traced
	if (rounds == 0) { print "bench: no rounds in the console"; exit 1 }
}'
