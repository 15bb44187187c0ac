'use strict';
'require baseclass';

/*
 * Formatting, error wording, rate history and graph markup for the bpfcountd
 * pages. Plain functions without DOM, so that node can test them
 * (test/ubus/luci.test.ts loads this file the way LuCI's loader does).
 * Messages go through LuCI's _() at run time (the test harness stands in).
 */

var BYTE_UNITS = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB' ];
var SI_PREFIXES = [ '', 'k', 'M', 'G', 'T', 'P', 'E' ];

/* Polls are 5 s apart: 60 samples are the last 5 minutes. */
var HISTORY_SAMPLES = 60;
var GRAPH_WIDTH = 120;
var GRAPH_HEIGHT = 24;

var START_COMMAND = '/etc/init.d/bpfcountd start';

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

/* Up to two decimals, no trailing zeros: 2 -> '2', 2.5 -> '2.5' (SVG coordinates) */
function coord(n) {
	return String(Math.round(n * 100) / 100);
}

/*
 * LuCI's rpc layer reports a failed call as "RPC call to <object>/<method>
 * failed with error <code>: <text>" (JSON-RPC level, e.g. no such object) or
 * "... failed with ubus code <n>: <text>"; L.raise appends the stack on the
 * following lines. Returns { kind, code, text } of the first line.
 */
function rpcFailure(err) {
	var message = String((err && err.message != null) ? err.message : err);
	var first = message.split(/\n/)[0].replace(/\s+at\s+\S+\s+\(.*$/, '').trim();
	var m = /failed with error (-?\d+): (.*)$/.exec(first);
	if (m)
		return { kind: 'jsonrpc', code: +m[1], text: m[2] };
	m = /failed with ubus code (\d+): (.*)$/.exec(first);
	if (m)
		return { kind: 'ubus', code: +m[1], text: m[2] };
	return { kind: 'other', code: null, text: first };
}

return baseclass.extend({
	HISTORY_SAMPLES: HISTORY_SAMPLES,
	START_COMMAND: START_COMMAND,

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

	/*
	 * What the kernel hands to the daemon, from the `rules` reply of one
	 * instance: [ kind, filter ] with kind 'waiting', 'none' or 'filter'.
	 */
	kernelFilter: function(info, state) {
		if (state != 'running' || info == null)
			return [ 'waiting', '' ];
		if (typeof(info.kernel_filter) != 'string' || info.kernel_filter == '')
			return [ 'none', '' ];
		return [ 'filter', info.kernel_filter ];
	},

	/* The `stats` reply (and optionally `rules`) as a list sorted by instance name, every value a display string */
	instances: function(stats, rules) {
		if (stats == null || typeof(stats) != 'object')
			return [];
		rules = (rules != null && typeof(rules) == 'object') ? rules : {};
		return Object.keys(stats).sort().map(function(name) {
			var s = stats[name] || {}, d = s.drops || {};
			var state = s.state || 'unknown';
			return {
				name: name,
				interface: s.interface || '-',
				prefilter: s.prefilter || '',
				state: (state == 'waiting' && typeof(s.error) == 'string' && s.error != '') ? 'failed' : state,
				error: typeof(s.error) == 'string' ? s.error : '',
				kernelFilter: this.kernelFilter(rules[name], state),
				received: this.count(d.received),
				dropped: this.count(d.dropped),
				ifdropped: this.count(d.ifdropped),
				dropRatio: this.dropRatio(d),
				rules: this.ruleRows(s)
			};
		}, this);
	},

	/*
	 * A failed ubus call in words a user can act on; never a stack trace.
	 * `what` names the call for the less common failures ("reload").
	 */
	errorMessage: function(err, what) {
		var f = rpcFailure(err);

		if ((f.kind == 'jsonrpc' && f.code == -32000) || (f.kind == 'other' && /^Object not found$/i.test(f.text)))
			return _('bpfcountd is not running. Start it with %s (it runs while at least one section is enabled).').format(START_COMMAND);
		if ((f.kind == 'jsonrpc' && f.code == -32002) || (f.kind == 'ubus' && f.code == 6))
			return _('Access denied: your login lacks the ACL group luci-app-bpfcountd for this (%s).').format(what || 'bpfcountd');
		if ((f.kind == 'jsonrpc' && f.code == -32601) || (f.kind == 'ubus' && f.code == 3))
			return _('The running bpfcountd does not know "%s": it is older than this page. Update the bpfcountd package and restart it.').format(what || '?');
		if (f.kind == 'ubus' && f.code == 7)
			return _('bpfcountd did not answer in time (%s).').format(what || 'bpfcountd');
		if (f.kind == 'ubus' && f.code == 4)
			return _('bpfcountd has no such instance (%s).').format(what || 'bpfcountd');
		if (f.kind == 'ubus' && f.code == 9)
			return _('bpfcountd could not answer (%s); its log says why: logread -e bpfcountd').format(what || 'bpfcountd');
		return _('bpfcountd: %s failed: %s').format(what || 'call', f.text || '?');
	},

	/* Whether the daemon is simply not running (no ubus object) */
	isNotRunning: function(err) {
		var f = rpcFailure(err);
		return (f.kind == 'jsonrpc' && f.code == -32000) || (f.kind == 'other' && /^Object not found$/i.test(f.text));
	},

	/*
	 * Packet rates per rule, kept in the browser across polls. A sample is the
	 * counter difference since the previous poll (a burst between two polls
	 * is not averaged away), or the daemon's own rate for the first poll and
	 * after a counter restart. A failed poll leaves a gap.
	 */
	rateHistory: function(size) {
		var limit = size || HISTORY_SAMPLES;
		var series = {};
		var last = {};
		var push = function(key, value) {
			var s = series[key] || (series[key] = []);
			s.push(value);
			while (s.length > limit)
				s.shift();
		};

		return {
			record: function(stats, nowMs) {
				var seen = {};
				Object.keys(stats || {}).forEach(function(name) {
					var rules = (stats[name] && Array.isArray(stats[name].rules)) ? stats[name].rules : [];
					rules.forEach(function(r) {
						var key = name + '/' + r.id, prev = last[key], rate = null;
						if (prev && usable(r.packets) && r.packets >= prev.packets && nowMs > prev.at)
							rate = (r.packets - prev.packets) * 1000 / (nowMs - prev.at);
						else if (usable(r.packets_per_second))
							rate = r.packets_per_second;
						if (usable(r.packets))
							last[key] = { packets: r.packets, at: nowMs };
						seen[key] = true;
						push(key, rate);
					});
				});
				/* Rules gone after a reload: forget them. */
				Object.keys(series).forEach(function(key) {
					if (!seen[key]) {
						delete series[key];
						delete last[key];
					}
				});
			},

			gap: function() {
				Object.keys(series).forEach(function(key) {
					push(key, null);
					delete last[key];
				});
			},

			samples: function(instance, id) {
				return (series[instance + '/' + id] || []).slice();
			}
		};
	},

	/* Highest sample, 0 when there is none */
	peak: function(samples) {
		return (samples || []).reduce(function(max, v) { return usable(v) && v > max ? v : max; }, 0);
	},

	/*
	 * An inline SVG of the samples (oldest left, newest at the right edge,
	 * scaled to the highest sample): a line per run of samples without a gap,
	 * over a lighter area. Only numbers go into the markup. Drawn in the
	 * text colour (currentColor), so it follows the LuCI theme, dark ones too.
	 */
	graph: function(samples, size) {
		var n = size || HISTORY_SAMPLES;
		var list = (samples || []).slice(-n);
		var max = this.peak(list);
		var step = GRAPH_WIDTH / (n - 1);
		var offset = n - list.length;
		var runs = [], run = [];

		list.forEach(function(v, i) {
			if (!usable(v)) {
				if (run.length)
					runs.push(run);
				run = [];
				return;
			}
			var x = (offset + i) * step;
			/* 1 unit of margin keeps a flat line at the top or bottom visible */
			var y = max > 0 ? (GRAPH_HEIGHT - 1) - (v / max) * (GRAPH_HEIGHT - 2) : GRAPH_HEIGHT - 1;
			run.push([ x, y ]);
		});
		if (run.length)
			runs.push(run);

		var shapes = runs.map(function(r) {
			if (r.length == 1)
				r = [ [ Math.max(r[0][0] - step / 2, 0), r[0][1] ], [ Math.min(r[0][0] + step / 2, GRAPH_WIDTH), r[0][1] ] ];
			var line = r.map(function(p) { return coord(p[0]) + ',' + coord(p[1]); }).join(' ');
			var area = coord(r[0][0]) + ',' + GRAPH_HEIGHT + ' ' + line + ' ' + coord(r[r.length - 1][0]) + ',' + GRAPH_HEIGHT;
			return '<polygon points="' + area + '" fill="currentColor" fill-opacity="0.15" stroke="none"/>' +
				'<polyline points="' + line + '" fill="none" stroke="currentColor" stroke-width="1" vector-effect="non-scaling-stroke"/>';
		});

		return '<svg xmlns="http://www.w3.org/2000/svg" class="bpfcountd-graph" width="' + GRAPH_WIDTH + '" height="' + GRAPH_HEIGHT +
			'" viewBox="0 0 ' + GRAPH_WIDTH + ' ' + GRAPH_HEIGHT + '" preserveAspectRatio="none" role="img">' +
			'<line x1="0" y1="' + (GRAPH_HEIGHT - 0.5) + '" x2="' + GRAPH_WIDTH + '" y2="' + (GRAPH_HEIGHT - 0.5) + '" stroke="currentColor" stroke-opacity="0.3" stroke-width="1"/>' +
			shapes.join('') + '</svg>';
	},

	/* Local part of a rule line's check: what the daemon's reader would say, or null */
	ruleLineError: function(line) {
		var text = String(line == null ? '' : line);
		var semicolon = text.indexOf(';');
		if (semicolon < 0)
			return _('Write the rule as id;expression, e.g. arp;arp');
		var id = text.substring(0, semicolon).trim();
		if (id == '')
			return _('The rule needs an id before the ";"');
		if (text.substring(semicolon + 1).trim() == '')
			return _('The rule needs a tcpdump expression after the ";"');
		return null;
	},

	/* The interface names the daemon accepts (no blank or "/", at most 15 characters) */
	ifnameError: function(name) {
		if (name == null || name == '')
			return _('Choose the interface to count on');
		if (/[\s\/]/.test(name) || name.length > 15)
			return _('Not an interface name: no blanks or "/", at most 15 characters');
		return null;
	},

	/* A socket path the daemon accepts: absolute, at most 107 bytes (sun_path) */
	socketError: function(path) {
		if (path == null || path == '')
			return null;
		if (path.charAt(0) != '/')
			return _('The socket path must be absolute');
		if (new TextEncoder().encode(path).length > 107)
			return _('The socket path is longer than 107 bytes');
		return null;
	},

	/*
	 * The refusals in a `check` reply, one line each, in the daemon's words:
	 * "rule 'bad': <libpcap's message> (<where the parser stops>)".
	 */
	refusals: function(reply) {
		var out = [];
		if (reply == null || typeof(reply) != 'object')
			return out;
		if (reply.prefilter && reply.prefilter.ok === false)
			out.push('prefilter: ' + (reply.prefilter.error || '?'));
		(Array.isArray(reply.rules) ? reply.rules : []).forEach(function(v, i) {
			if (!v || v.ok !== false)
				return;
			var name = v.id ? "rule '" + v.id + "'" : 'rule ' + (i + 1);
			out.push(name + ': ' + (v.error || '?') + (v.detail ? ' (' + v.detail + ')' : ''));
		});
		return out;
	}
});
