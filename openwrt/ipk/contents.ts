/**
 * What each package ships: the one list that `npm run package` builds from and
 * that the feed Makefiles must install (test/package checks both agree).
 */

export interface ShippedFile {
  /** Source, relative to the repository root. */
  from: string;
  /** Where it lands on the router. */
  to: string;
  mode: 0o755 | 0o644 | 0o600;
  /** Kept on upgrade when the user changed it (opkg writes the new one as <file>-opkg). */
  conffile?: boolean;
}

export interface PackageSpec {
  name: string;
  version: string;
  /** 'all', or an OpenWrt architecture name for the host addon. */
  architecture: string;
  depends: readonly string[];
  section: string;
  description: string;
  files: readonly ShippedFile[];
  postinst?: string;
  prerm?: string;
  /**
   * Control field Require-User (the feed Makefile's USERID): default_postinst
   * creates these users and groups (`user:group`, ids picked at install).
   */
  requireUser?: string;
}

/** OpenWrt 24.10 writes versions as <upstream>-r<release>. */
export const PKG_RELEASE = 1;

/** The init scripts are enabled and started on a live system, only enabled in an image build (default_postinst). */
const SERVICE_POSTINST = `#!/bin/sh
[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s "\${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "\${IPKG_INSTROOT}/lib/functions.sh"
default_postinst "$0" "$@"
`;

/** Stops and disables the init scripts before removal (default_prerm). */
const SERVICE_PRERM = `#!/bin/sh
[ -s "\${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
. "\${IPKG_INSTROOT}/lib/functions.sh"
default_prerm "$0" "$@"
`;

/** LuCI caches its menu and rpcd its ACLs: a new page appears only after both are refreshed. */
const LUCI_POSTINST = `#!/bin/sh
[ -n "\${IPKG_INSTROOT}" ] && exit 0
rm -f /tmp/luci-indexcache /tmp/luci-indexcache.*
rm -rf /tmp/luci-modulecache/
killall -HUP rpcd 2>/dev/null
exit 0
`;

export function packages(version: string, hostArchitecture: string, pcapVersion: string): PackageSpec[] {
  const full = `${version}-r${PKG_RELEASE}`;
  return [
    {
      name: 'bpfcountd',
      version: full,
      architecture: 'all',
      depends: ['node', 'node-pcap'],
      section: 'net',
      description: 'Counts packets and bytes per tcpdump filter rule on network interfaces.\n' +
        'One daemon serves every configured interface; counters are read from a unix\n' +
        'socket per UCI section (<id>:<bytes>:<packets> lines), with `bpfcountd --query`\n' +
        'or with `ubus call bpfcountd stats`.',
      files: [
        { from: 'dist/bpfcountd.js', to: '/usr/lib/bpfcountd/bpfcountd.js', mode: 0o644 },
        { from: 'files/usr/sbin/bpfcountd', to: '/usr/sbin/bpfcountd', mode: 0o755 },
        { from: 'files/etc/init.d/bpfcountd', to: '/etc/init.d/bpfcountd', mode: 0o755 },
        { from: 'files/etc/config/bpfcountd', to: '/etc/config/bpfcountd', mode: 0o600, conffile: true },
        { from: 'files/etc/bpfcountd.filters', to: '/etc/bpfcountd.filters', mode: 0o644, conffile: true },
        { from: 'files/usr/share/rpcd/acl.d/bpfcountd.json', to: '/usr/share/rpcd/acl.d/bpfcountd.json', mode: 0o644 },
        // For `option user 'bpfcountd'`: ujail's capability set, and ubusd's leave to publish the object.
        { from: 'files/etc/capabilities/bpfcountd.json', to: '/etc/capabilities/bpfcountd.json', mode: 0o644 },
        { from: 'files/usr/share/acl.d/bpfcountd.json', to: '/usr/share/acl.d/bpfcountd.json', mode: 0o644 },
        { from: 'README.md', to: '/usr/share/doc/bpfcountd/README.md', mode: 0o644 },
      ],
      postinst: SERVICE_POSTINST,
      prerm: SERVICE_PRERM,
      requireUser: 'bpfcountd:bpfcountd',
    },
    {
      name: 'luci-app-bpfcountd',
      version: full,
      architecture: 'all',
      depends: ['luci-base', 'bpfcountd'],
      section: 'luci',
      description: 'LuCI pages for bpfcountd: counters, rates and configuration.',
      files: [
        { from: 'openwrt/luci-app-bpfcountd/htdocs/luci-static/resources/view/bpfcountd/status.js', to: '/www/luci-static/resources/view/bpfcountd/status.js', mode: 0o644 },
        { from: 'openwrt/luci-app-bpfcountd/htdocs/luci-static/resources/view/bpfcountd/config.js', to: '/www/luci-static/resources/view/bpfcountd/config.js', mode: 0o644 },
        { from: 'openwrt/luci-app-bpfcountd/htdocs/luci-static/resources/bpfcountd/format.js', to: '/www/luci-static/resources/bpfcountd/format.js', mode: 0o644 },
        { from: 'openwrt/luci-app-bpfcountd/root/usr/share/luci/menu.d/luci-app-bpfcountd.json', to: '/usr/share/luci/menu.d/luci-app-bpfcountd.json', mode: 0o644 },
        { from: 'openwrt/luci-app-bpfcountd/root/usr/share/rpcd/acl.d/luci-app-bpfcountd.json', to: '/usr/share/rpcd/acl.d/luci-app-bpfcountd.json', mode: 0o644 },
      ],
      postinst: LUCI_POSTINST,
    },
    {
      // For tests only: the addon as built on this machine (glibc, Debian's libpcap.so.0.8).
      // A router's node-pcap comes from the feed (openwrt/node-pcap), built by OpenWrt's toolchain.
      name: 'node-pcap',
      version: `${pcapVersion}-r${PKG_RELEASE}`,
      architecture: hostArchitecture,
      depends: ['node'],
      section: 'lang',
      description: 'The npm package pcap\'s native addon (libpcap binding), patched for bpfcountd.\n' +
        'Built on the packaging host: for tests of the packages, not for routers.',
      files: [
        { from: 'node_modules/pcap/package.json', to: '/usr/lib/node/pcap/package.json', mode: 0o644 },
        { from: 'node_modules/pcap/build/Release/pcap_binding.node', to: '/usr/lib/node/pcap/build/Release/pcap_binding.node', mode: 0o755 },
      ],
    },
  ];
}

/** OpenWrt's names for the architectures Node reports (host addon package only). */
export function openwrtArchitecture(nodeArch: string): string {
  switch (nodeArch) {
    case 'x64': return 'x86_64';
    case 'arm64': return 'aarch64_generic';
    case 'arm': return 'arm_cortex-a7_neon-vfpv4';
    case 'ia32': return 'i386_pentium4';
    case 'mipsel': return 'mipsel_24kc';
    default: return nodeArch;
  }
}
