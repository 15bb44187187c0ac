#!/bin/sh
# Applies openwrt/node-pcap/patches/*.patch to node_modules/pcap and rebuilds
# the addon when a patch was applied (run by `npm ci`/`npm install` as the
# root package's postinstall; the OpenWrt feed package applies the same files
# from patches/). Idempotent: a patch that is already in place is skipped,
# and an unchanged, already built tree is left alone.
# node-gyp gets a --nodedir when this Node's headers are on the machine, so it
# never downloads them (CI cannot reach nodejs.org).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
pcap="$root/node_modules/pcap"
patches="$root/openwrt/node-pcap/patches"
addon="$pcap/build/Release/pcap_binding.node"

die() { echo "openwrt/node-pcap/apply-patches.sh: $*" >&2; exit 1; }

[ -f "$pcap/pcap_session.cc" ] || die "no node_modules/pcap in $root"
command -v patch >/dev/null 2>&1 || die "'patch' not found (Debian: apt-get install -y patch)"

# Applied patches are listed with their checksums in $stamp: a later patch may
# change lines of an earlier one, so "reversible" cannot tell what is in place.
stamp="$pcap/.bpfcountd-patches"
applied=0
for p in "$patches"/*.patch; do
	[ -f "$p" ] || continue
	entry="$(basename "$p") $(cksum <"$p" | cut -d' ' -f1)"
	if [ -f "$stamp" ] && grep -qxF "$entry" "$stamp"; then
		continue
	fi
	if patch -d "$pcap" -p1 -N -s -f --dry-run <"$p" >/dev/null 2>&1; then
		patch -d "$pcap" -p1 -N -s --no-backup-if-mismatch <"$p" || die "$(basename "$p") does not apply to node_modules/pcap"
		echo "node-pcap: applied $(basename "$p")"
		applied=1
	elif ! patch -d "$pcap" -p1 -R -s -f --dry-run <"$p" >/dev/null 2>&1; then
		die "$(basename "$p") does not apply to node_modules/pcap (reinstall it: rm -rf node_modules/pcap && npm ci)"
	fi
	echo "$entry" >>"$stamp"
done

# Rebuilt when a patch went in, or when the build is missing or older than a source.
stale=0
if [ ! -f "$addon" ] || [ -n "$(find "$pcap" -maxdepth 1 \( -name '*.cc' -o -name '*.h' \) -newer "$addon")" ]; then
	stale=1
fi
[ $applied = 1 ] || [ $stale = 1 ] || exit 0

gyp=${npm_config_node_gyp:-}
if [ -z "$gyp" ] || [ ! -f "$gyp" ]; then
	npm_cli=$(readlink -f "$(command -v npm)")
	for candidate in \
		"$root/node_modules/node-gyp/bin/node-gyp.js" \
		"$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js"; do
		if [ -f "$candidate" ]; then gyp=$candidate; break; fi
	done
fi
[ -n "$gyp" ] || die "cannot find node-gyp"

nodedir=${npm_config_nodedir:-}
[ -n "$nodedir" ] || nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ "$nodedir" = null ]; then
	prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
	nodedir=""
	[ -f "$prefix/include/node/node.h" ] && nodedir=$prefix
fi
echo "node-pcap: rebuilding the addon${nodedir:+ (headers from $nodedir)}"
(cd "$pcap" && node "$gyp" rebuild ${nodedir:+"--nodedir=$nodedir"} >"$pcap/build-patched.log" 2>&1) ||
	{ tail -n 30 "$pcap/build-patched.log" >&2; die "node-gyp rebuild failed (log: node_modules/pcap/build-patched.log)"; }
[ -f "$addon" ] || die "node-gyp succeeded but $addon is missing"
