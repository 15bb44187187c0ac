#!/bin/sh
# Type-checks everything (strict) and bundles the daemon into one file.
# Output: dist/bpfcountd.js (the daemon), build/ (compiled tests, benchmarks and the packager).
# OpenWrt packages: npm run package (dist/*.ipk).
set -e
cd "$(dirname "$0")"
rm -rf build/src build/test build/bench build/openwrt
npx --no-install tsc -p tsconfig.json
npx --no-install esbuild src/main.ts --bundle --platform=node --target=node18 --format=cjs \
	--external:pcap --banner:js='#!/usr/bin/env node' --log-level=warning \
	--outfile=dist/bpfcountd.js
chmod +x dist/bpfcountd.js
