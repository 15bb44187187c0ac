'use strict';
'require baseclass';

/*
 * Number formatting and table rows for the bpfcountd status page. Plain
 * functions without DOM or translation, so that node can test them
 * (test/ubus/luci.test.ts loads this file the way LuCI's loader does).
 */

var BYTE_UNITS = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB' ];
var SI_PREFIXES = [ '', 'k', 'M', 'G', 'T', 'P', 'E' ];

function usable(n) {
	return typeof(n) == 'number' && isFinite(n) && n >= 0;
}

/* value scaled by base until it is below base: [ scaled, unit index ] */
function scale(n, base) {
	var i = 0;
	while (n >= base && i < SI_PREFIXES.length - 1) {
		n /= base;
		i++;
	}
	return [ n, i ];
}

return baseclass.extend({
	/* 512 -> '512 B', 1536 -> '1.50 KiB' (binary units, as LuCI shows traffic) */
	bytes: function(n) {
		if (!usable(n))
			return '-';
		var s = scale(n, 1024);
		return s[1] == 0 ? String(Math.round(n)) + ' B' : s[0].toFixed(2) + ' ' + BYTE_UNITS[s[1]];
	},

	/* Counts with SI prefixes: 999 -> '999', 4000000 -> '4.00 M' */
	count: function(n) {
		if (!usable(n))
			return '-';
		var s = scale(n, 1000);
		return s[1] == 0 ? String(Math.round(n)) : s[0].toFixed(2) + ' ' + SI_PREFIXES[s[1]];
	},

	/* Bytes per second shown as a line rate: 1250000 -> '10.00 Mbit/s' */
	bitRate: function(bytesPerSecond) {
		if (!usable(bytesPerSecond))
			return '-';
		var s = scale(bytesPerSecond * 8, 1000);
		return s[0].toFixed(s[1] == 0 ? 0 : 2) + ' ' + SI_PREFIXES[s[1]] + 'bit/s';
	},

	/* 3.25 -> '3.25 pkt/s', 12000 -> '12.00 kpkt/s' */
	packetRate: function(packetsPerSecond) {
		if (!usable(packetsPerSecond))
			return '-';
		var s = scale(packetsPerSecond, 1000);
		return s[0].toFixed(2) + ' ' + SI_PREFIXES[s[1]] + 'pkt/s';
	},

	/* Share of dropped packets among those the kernel saw: '0.25 %' */
	dropRatio: function(drops) {
		if (drops == null || !usable(drops.received) || !usable(drops.dropped))
			return '-';
		if (drops.received == 0)
			return '0.00 %';
		return (100 * drops.dropped / drops.received).toFixed(2) + ' %';
	},

	/* One row of strings per rule: id, bytes, packets, bit rate, packet rate */
	ruleRows: function(instance) {
		var rules = (instance && Array.isArray(instance.rules)) ? instance.rules : [];
		return rules.map(function(r) {
			return [
				String(r.id),
				this.bytes(r.bytes),
				this.count(r.packets),
				this.bitRate(r.bytes_per_second),
				this.packetRate(r.packets_per_second)
			];
		}, this);
	},

	/* The `stats` reply as a list sorted by instance name, every value a display string */
	instances: function(stats) {
		if (stats == null || typeof(stats) != 'object')
			return [];
		return Object.keys(stats).sort().map(function(name) {
			var s = stats[name] || {}, d = s.drops || {};
			return {
				name: name,
				interface: s.interface || '-',
				prefilter: s.prefilter || '',
				state: s.state || 'unknown',
				received: this.count(d.received),
				dropped: this.count(d.dropped),
				ifdropped: this.count(d.ifdropped),
				dropRatio: this.dropRatio(d),
				rules: this.ruleRows(s)
			};
		}, this);
	}
});
