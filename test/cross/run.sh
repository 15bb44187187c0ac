#!/usr/bin/env bash
# Cross-architecture checks: the bundle under Debian bookworm's Node 18 (the
# Node of OpenWrt 23.05) on emulated router CPUs, against the x86_64 run and
# the libpcap oracle.
#
#   test/cross/run.sh                     what CI runs: arm64 user, mipsel user, mipsel system
#   test/cross/run.sh ARCH MODE ...       pairs; ARCH arm64|armhf|mipsel, MODE user|system
#
#   user    qemu-user: `-r` on every test capture with the broad rule sets,
#           `--check`, and failing inputs: stdout, stderr and exit code byte for
#           byte those of dist/bpfcountd.js on this x86_64 machine, and every
#           count equal to the libpcap oracle's (build/pcap-oracle).
#   system  qemu-system with Debian's kernel for ARCH (test/cross/system.sh).
#   bench   qemu-system, start-up and memory rounds only (test/cross/guest-bench.sh,
#           summary by test/cross/bench-summary.sh; CROSS_BENCH_RUNS rounds, default 5):
#           test/cross/run.sh mipsel bench
#           (CROSS_BUNDLE=FILE: that bundle instead of dist/bpfcountd.js)
#
# The target root is unpacked from Debian .debs (dpkg -x, never installed);
# the `pcap` addon is cross-built from node_modules/pcap (whatever sources and
# patches it holds) against the target's Node headers and libpcap, and lives
# where OpenWrt's node-pcap package puts it (/usr/lib/node/pcap/...).
# Caches: build/cross/debs (downloads), build/cross/ARCH (root, addon), each
# rebuilt when its inputs change.
#
# Needs, on Debian 12 amd64: `dpkg --add-architecture ARCH` and `apt-get update`
# done; qemu-user-static, g++-TRIPLET, make, python3, cpio (system: qemu-system-mips
# or qemu-system-arm); npm (for node-gyp) and a built tree (./build.sh).
# Prints one 'cross: tests N fail N' line at the end (read by test/run.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/test/cross"
cache="$root/build/cross"
# CROSS_USER_TIMEOUT: seconds for one emulated daemon run.
user_timeout=${CROSS_USER_TIMEOUT:-300}

die() { echo "test/cross/run.sh: $*" >&2; exit 1; }
say() { echo "cross: $*"; }

tests=0
fails=0
pass() { tests=$((tests + 1)); say "ok   $*"; }
failed() { tests=$((tests + 1)); fails=$((fails + 1)); say "FAIL $*"; }

# Per architecture: Debian name, GNU triplet, qemu-user name.
arch_vars() {
	case $1 in
	arm64) triplet=aarch64-linux-gnu qemu_user=aarch64 gyp_arch=arm64 ;;
	armhf) triplet=arm-linux-gnueabihf qemu_user=arm gyp_arch=arm ;;
	mipsel) triplet=mipsel-linux-gnu qemu_user=mipsel gyp_arch=mipsel ;;
	*) die "unknown architecture '$1' (arm64, armhf, mipsel)" ;;
	esac
}

# Node 18 and its libraries, libpcap with headers, the Node headers, busybox.
target_packages="nodejs libnode108 libc6 libgcc-s1 libstdc++6 libatomic1 libuv1 libssl3 zlib1g
	libbrotli1 libc-ares2 libnghttp2-14 libicu72 libpcap0.8 libdbus-1-3 libsystemd0 libcap2
	libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1 libpcap0.8-dev libnode-dev libuv1-dev
	busybox-static"
# Architecture-independent JavaScript that Debian's Node loads from /usr/share/nodejs.
all_packages="node-acorn node-cjs-module-lexer node-undici node-busboy node-xtend"

# Downloads the missing .debs for ARCH into build/cross/debs; prints their paths.
fetch_debs() {
	local arch=$1 pkgs=() p uris
	mkdir -p "$cache/debs"
	for p in $target_packages; do pkgs+=("$p:$arch"); done
	for p in $all_packages; do pkgs+=("$p"); done
	# grep reads to the end (no -q): with pipefail, dpkg killed by SIGPIPE after an early match would fail the test.
	dpkg --print-foreign-architectures | grep -x "$arch" >/dev/null ||
		die "dpkg does not know $arch: run 'dpkg --add-architecture $arch && apt-get update' (as root)"
	# (From an empty directory: apt prints nothing for files already in the current one.)
	uris=$(cd / && apt-get download --print-uris "${pkgs[@]}") ||
		die "apt-get cannot find the $arch packages (apt-get update after dpkg --add-architecture $arch?)"
	local missing=() file
	while read -r _ file _; do
		[ -f "$cache/debs/$file" ] || missing+=("$file")
	done <<<"$uris"
	if [ ${#missing[@]} -gt 0 ]; then
		say "$arch: downloading ${#missing[@]} .debs into build/cross/debs" >&2
		(cd "$cache/debs" && timeout 900 apt-get download -q "${pkgs[@]}" >"$cache/debs/download.log" 2>&1) ||
			{ tail -n 20 "$cache/debs/download.log" >&2; die "apt-get download failed for $arch"; }
	fi
	while read -r _ file _; do
		[ -f "$cache/debs/$file" ] || die "apt-get download did not produce $file"
		echo "$cache/debs/$file"
	done <<<"$uris"
}

# Unpacks the target root into build/cross/ARCH/root (once per set of .debs).
make_root() {
	local arch=$1 debs sum dir="$cache/$1" r
	debs=$(fetch_debs "$arch") || exit 1
	sum=$(echo "$debs" | xargs -n1 basename | sort | sha256sum | cut -c1-16)
	r="$dir/root"
	if [ -f "$dir/root.stamp" ] && [ "$(cat "$dir/root.stamp")" = "$sum" ] && [ -x "$r/usr/bin/node" ]; then
		return 0
	fi
	say "$arch: unpacking $(echo "$debs" | wc -l) packages into build/cross/$arch/root"
	rm -rf "$r" "$dir/root.stamp" "$dir/addon.stamp"
	mkdir -p "$r"
	local deb
	while read -r deb; do dpkg -x "$deb" "$r"; done <<<"$debs"
	# Merged /usr, as on the real system: /lib and /lib64 are links into /usr.
	local d
	for d in lib lib64; do
		if [ -d "$r/$d" ] && [ ! -L "$r/$d" ]; then
			mkdir -p "$r/usr/$d"
			cp -a "$r/$d/." "$r/usr/$d/"
			rm -rf "${r:?}/$d"
			ln -s "usr/$d" "$r/$d"
		fi
	done
	# Absolute links point into the host: make them relative (qemu -L, the initramfs).
	local link target
	while IFS= read -r -d '' link; do
		target=$(readlink "$link")
		ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$r$target")" "$link"
	done < <(find "$r" -type l -lname '/*' -print0)
	echo "$sum" >"$dir/root.stamp"
}

# Cross-builds node_modules/pcap into ROOT/usr/lib/node/pcap (OpenWrt's layout).
make_addon() {
	local arch=$1 dir="$cache/$1" r="$cache/$1/root" src_sum want gyp npm_cli
	local dest="$r/usr/lib/node/pcap" work="$cache/$1/addon-build"
	if [ ! -f "$root/node_modules/pcap/binding.gyp" ] || [ ! -f "$root/node_modules/nan/package.json" ]; then
		die "no node_modules/pcap or node_modules/nan: run 'npm ci' first"
	fi
	src_sum=$(cd "$root/node_modules" && find pcap nan -path pcap/build -prune -o -type f -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
	want="arch=$arch root=$(cat "$dir/root.stamp") src=$src_sum triplet=$triplet"
	if [ -f "$dir/addon.stamp" ] && [ "$(cat "$dir/addon.stamp")" = "$want" ] &&
		[ -f "$dest/build/Release/pcap_binding.node" ]; then
		return 0
	fi
	command -v "$triplet-g++" >/dev/null || die "no $triplet-g++ (apt-get install g++-$triplet)"
	npm_cli=$(readlink -f "$(command -v npm)")
	gyp=""
	local candidate
	for candidate in "$root/node_modules/node-gyp/bin/node-gyp.js" \
		"$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js" \
		"$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
		/usr/share/nodejs/node-gyp/bin/node-gyp.js; do
		if [ -f "$candidate" ]; then gyp=$candidate; break; fi
	done
	[ -n "$gyp" ] || die "cannot find node-gyp (node_modules or npm's own)"
	say "$arch: cross-building the pcap addon with $triplet-g++ (log: build/cross/$arch/node-gyp.log)"
	rm -rf "$work" "$dest" "$dir/addon.stamp"
	mkdir -p "$work/node_modules" "$dest/build/Release"
	(cd "$root/node_modules" && tar -cf - --exclude=pcap/build --exclude=pcap/node_modules pcap nan) |
		(cd "$work/node_modules" && tar -xf -)
	local libdir="$r/usr/lib/$triplet" unset_npm
	# npm_config_* (set under npm) would override node-gyp's command line.
	unset_npm=$(env | sed -n 's/^\([Nn][Pp][Mm]_[Cc][Oo][Nn][Ff][Ii][Gg]_[A-Za-z0-9_]*\)=.*/-u \1/p')
	# shellcheck disable=SC2086 # one word per -u NAME
	if ! (cd "$work/node_modules/pcap" && env $unset_npm \
		CC="$triplet-gcc" CXX="$triplet-g++" LINK="$triplet-g++" AR="$triplet-ar" \
		CXXFLAGS="-I$r/usr/include" CFLAGS="-I$r/usr/include" \
		LDFLAGS="-L$libdir -Wl,-rpath-link,$libdir" \
		timeout 900 node "$gyp" rebuild --arch="$gyp_arch" --nodedir="$r/usr" --jobs=2 >"$dir/node-gyp.log" 2>&1); then
		tail -n 30 "$dir/node-gyp.log" >&2
		die "cross-building the addon for $arch failed"
	fi
	cp "$work/node_modules/pcap/build/Release/pcap_binding.node" "$dest/build/Release/"
	cp "$work/node_modules/pcap/package.json" "$dest/"
	rm -rf "$work"
	echo "$want" >"$dir/addon.stamp"
}

# Runs Node 18 of ARCH under qemu-user, with the bundle and the addon in $app.
# (qemu -L redirects open() into the root but not stat(), so Node must find
# them at host paths; $app is outside the checkout, whose node_modules holds
# the x86_64 addon that Node's lookup would find first.)
run_target() {
	NODE_PATH="$app/usr/lib/node" timeout --kill-after=10 "$user_timeout" \
		"qemu-$qemu_user-static" -L "$cache/$arch/root" "$cache/$arch/root/usr/bin/node" "$@"
}

prepare() {
	local arch=$1
	arch_vars "$arch"
	command -v "qemu-$qemu_user-static" >/dev/null || die "no qemu-$qemu_user-static (apt-get install qemu-user-static)"
	make_root "$arch"
	make_addon "$arch"
	mkdir -p "$cache/$arch/root/usr/sbin"
	cp "$bundle" "$cache/$arch/root/usr/sbin/bpfcountd"
	rm -rf "$app"
	mkdir -p "$app/usr/sbin" "$app/usr/lib/node"
	cp "$bundle" "$app/usr/sbin/bpfcountd"
	cp -a "$cache/$arch/root/usr/lib/node/pcap" "$app/usr/lib/node/"
	local v
	v=$(cd / && run_target -p 'process.arch + " " + process.version + " libpcap: " + require(process.argv[1]).lib_version()' \
		"$app/usr/lib/node/pcap/build/Release/pcap_binding.node") ||
		die "$arch: Node or the addon does not run under qemu-$qemu_user-static"
	say "$arch: $v"
}

# Runs the bundle on x86_64 and emulated with the same arguments; compares
# stdout, stderr and exit code. Leaves the outputs in $out/NAME.{x86,emu}.*
same_as_x86() {
	local name=$1; shift
	local rc_x=0 rc_e=0
	node "$bundle" "$@" >"$out/$name.x86.out" 2>"$out/$name.x86.err" || rc_x=$?
	run_target "$app/usr/sbin/bpfcountd" "$@" >"$out/$name.emu.out" 2>"$out/$name.emu.err" || rc_e=$?
	echo "$rc_x" >"$out/$name.x86.rc"
	echo "$rc_e" >"$out/$name.emu.rc"
	if [ "$rc_e" -eq 124 ] || [ "$rc_e" -eq 137 ]; then
		echo "  timed out after $user_timeout s (CROSS_USER_TIMEOUT)"
		return 1
	fi
	local ok=0
	cmp -s "$out/$name.x86.out" "$out/$name.emu.out" || { diff -u "$out/$name.x86.out" "$out/$name.emu.out" | head -n 20; ok=1; }
	cmp -s "$out/$name.x86.err" "$out/$name.emu.err" || { diff -u "$out/$name.x86.err" "$out/$name.emu.err" | head -n 20; ok=1; }
	[ "$rc_x" = "$rc_e" ] || { echo "  exit code x86_64 $rc_x, $arch $rc_e"; ok=1; }
	return $ok
}

# The rules of a filter file as the oracle reads them: one expression a line, $MAC replaced.
oracle_exprs() {
	grep -v '^[[:space:]]*\(#\|$\)' "$1" | cut -d';' -f2- | sed "s/\\\$MAC/$2/g"
}

# Compares `<id>:<bytes>:<packets>` lines with the oracle's `OK <packets> <bytes>` lines.
same_as_oracle() {
	local counts=$1 capture=$2 rules=$3 mac=$4 expected
	oracle_exprs "$rules" "$mac" >"$out/exprs"
	expected=$("$root/build/pcap-oracle" count "$capture" "$out/exprs") || { echo "  the oracle failed on $capture"; return 1; }
	local n_rules n_lines
	n_rules=$(wc -l <"$out/exprs")
	n_lines=$(wc -l <"$counts")
	if [ "$n_rules" -eq 0 ] || [ "$n_rules" != "$n_lines" ]; then
		echo "  $n_lines counter lines for $n_rules rules"
		return 1
	fi
	paste -d' ' "$counts" <(echo "$expected") | awk '
		# id:bytes:packets, read from the right (ids may contain ":"); the oracle: OK packets bytes
		{ n = split($1, f, ":")
		  if ($2 != "OK" || $3 != f[n] || $4 != f[n - 1]) { print "  rule " NR ": daemon " $1 ", libpcap " $2 " " $3 " " $4; bad = 1 } }
		END { exit bad }'
}

user_checks() {
	local arch=$1 capture name lt rules mac=00:10:db:ff:10:01 n=0
	out=$(mktemp -d "$cache/$arch/user.XXXXXX")
	# 1. -r on every capture: Ethernet ones with the 71-rule broad set, the others with the IP set.
	while IFS=$'\t' read -r name lt _; do
		case $name in file | *.gz) continue ;; esac
		case $lt in
		EN10MB*) rules=test/fixtures/broad-ethernet.filters ;;
		*) rules=test/fixtures/broad-ip.filters ;;
		esac
		capture=test/data/pcaps/$name
		n=$((n + 1))
		if same_as_x86 "r-$name" -r "$capture" -f "$rules" --mac "$mac" &&
			same_as_oracle "$out/r-$name.x86.out" "$capture" "$rules" "$mac"; then
			pass "$arch: -r $name with $(basename "$rules") ($(wc -l <"$out/exprs") rules): same as x86_64 and libpcap"
		else
			failed "$arch: -r $name with $(basename "$rules")"
		fi
	done <"$root/test/data/pcaps/INDEX.tsv"
	[ "$n" -ge 29 ] || failed "$arch: only $n captures listed in test/data/pcaps/INDEX.tsv"
	# 2. --check: the plan of each rule set.
	for rules in test/fixtures/broad-ethernet.filters files/etc/bpfcountd.filters; do
		if same_as_x86 "check-$(basename "$rules")" --check -r test/data/pcaps/eapon1.pcap -f "$rules" --mac "$mac" &&
			[ "$(cat "$out/check-$(basename "$rules").x86.rc")" = 0 ] && [ -s "$out/check-$(basename "$rules").x86.out" ]; then
			pass "$arch: --check with $rules: same plan as x86_64"
		else
			failed "$arch: --check with $rules"
		fi
	done
	# Service mode --check: sections whose interfaces are missing are parsed and reported.
	if same_as_x86 check-uci -c test/cross/inputs/missing-iface.uci --check && [ "$(cat "$out/check-uci.x86.rc")" = 0 ] &&
		[ "$(grep -c 'missing: would wait' "$out/check-uci.x86.out")" = 2 ]; then
		pass "$arch: -c --check with two sections: same as x86_64"
	else
		failed "$arch: -c --check with two sections"
	fi
	# 3. Failing inputs: the same one-line error and exit code.
	local f args case_name
	while IFS='|' read -r case_name f; do
		case $case_name in '#'* | '') continue ;; esac
		read -ra args <<<"$f"
		if same_as_x86 "fail-$case_name" "${args[@]}" && [ "$(cat "$out/fail-$case_name.x86.rc")" != 0 ] &&
			[ "$(wc -l <"$out/fail-$case_name.x86.err")" -ge 1 ]; then
			pass "$arch: failing input $case_name: exit $(cat "$out/fail-$case_name.x86.rc"), same error as x86_64"
		else
			failed "$arch: failing input $case_name (x86_64 exit $(cat "$out/fail-$case_name.x86.rc"))"
		fi
	done <"$here/failing.cases"
	if [ "$fails" -eq 0 ]; then rm -rf "$out"; else say "outputs kept in ${out#"$root"/}"; fi
}

pairs=("$@")
[ ${#pairs[@]} -gt 0 ] || pairs=(arm64 user mipsel user mipsel system)
[ $((${#pairs[@]} % 2)) -eq 0 ] || die "usage: test/cross/run.sh [ARCH user|system|bench]..."
# CROSS_BUNDLE: another build of the daemon (before/after comparisons with bench).
bundle=${CROSS_BUNDLE:-$root/dist/bpfcountd.js}
[ -f "$bundle" ] || die "no $bundle: run ./build.sh first"
"$root/test/oracle/build.sh"
# One run at a time: they share build/cross.
mkdir -p "$cache"
command -v flock >/dev/null || die "'flock' not found (Debian: util-linux)"
exec 9>"$cache/.lock"
flock 9
app=$(mktemp -d /tmp/bpfcountd-cross.XXXXXX)
trap 'rm -rf "$app"' EXIT
cd "$root"
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
	arch=${pairs[i]} mode=${pairs[i + 1]}
	start=$SECONDS
	prepare "$arch"
	case $mode in
	user) user_checks "$arch" ;;
	system)
		sys_out=$(mktemp -d "$cache/$arch/system.XXXXXX")
		sys_rc=0
		"$here/system.sh" "$arch" "$cache/$arch" "$sys_out" 2>&1 | tee "$sys_out/host.log" || sys_rc=$?
		[ "$sys_rc" -eq 0 ] || failed "$arch system: test/cross/system.sh exit $sys_rc"
		while read -r verdict text; do
			case $verdict in
			ok) pass "$text" ;;
			FAIL) failed "$text" ;;
			esac
		done < <(sed -n 's/^system: \(ok\|FAIL\) /\1 /p' "$sys_out/host.log")
		grep -q '^system: ok live' "$sys_out/host.log" || failed "$arch system: no exact live result"
		if [ "$fails" -eq 0 ]; then rm -rf "$sys_out"; else say "outputs kept in ${sys_out#"$root"/}"; fi
		;;
	bench)
		# Start-up and memory rounds only (test/cross/guest-bench.sh); CROSS_BENCH_RUNS rounds (default 5).
		bench_out=$cache/$arch/bench.$(date +%Y%m%d-%H%M%S)
		mkdir -p "$bench_out"
		CROSS_BENCH_RUNS=${CROSS_BENCH_RUNS:-5} "$here/system.sh" "$arch" "$cache/$arch" "$bench_out" 2>&1 | tee "$bench_out/host.log"
		rm -f "$bench_out/initrd.gz"
		say "console and summary kept in ${bench_out#"$root"/}"
		;;
	*) die "unknown mode '$mode' (user, system, bench)" ;;
	esac
	say "$arch $mode: $((SECONDS - start)) s"
done
say "tests $tests fail $fails"
[ "$fails" -eq 0 ]
