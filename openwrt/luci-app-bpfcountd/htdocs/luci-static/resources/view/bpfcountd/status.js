'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require dom';
'require bpfcountd.format as fmt';

/*
 * Live traffic counters of every bpfcountd instance (`ubus call bpfcountd
 * stats` every 5 s, `rules` for the kernel filter), with a graph of each
 * rule's packet rate kept in the browser. Users without write access to the
 * ACL group luci-app-bpfcountd see everything except the reload button.
 */

var callStats = rpc.declare({
	object: 'bpfcountd',
	method: 'stats',
	expect: { '': {} },
	/* a ubus error status rejects instead of resolving with the bare code */
	reject: true
});

var callRules = rpc.declare({
	object: 'bpfcountd',
	method: 'rules',
	expect: { '': {} },
	reject: true
});

var callCheckSaved = rpc.declare({
	object: 'bpfcountd',
	method: 'check',
	expect: { config: {} },
	reject: true
});

var callReload = rpc.declare({
	object: 'bpfcountd',
	method: 'reload',
	reject: true
});

var STATE_LABELS = {
	running: _('counting'),
	waiting: _('waiting for the interface to appear'),
	failed: _('not counting')
};

/* stats and rules together; rules is optional (its failure only hides the kernel filter) */
function fetchAll() {
	return Promise.all([ callStats(), callRules().catch(function() { return null; }) ]);
}

/* "check" only reports; an older daemon without it must not break the page */
function fetchSavedVerdict() {
	return callCheckSaved().catch(function() { return null; });
}

function alertBox(kind, text) {
	return E('div', { 'class': 'alert-message ' + kind }, E('p', {}, text));
}

function kernelFilterText(kf) {
	switch (kf[0]) {
	case 'filter':
		return [ E('code', {}, kf[1]), ' ', E('small', {}, _('(only packets some rule can count are copied to bpfcountd)')) ];
	case 'none':
		return E('em', {}, _('none: every packet of the interface is copied to bpfcountd'));
	default:
		return E('em', {}, _('not installed while the instance is not counting'));
	}
}

function graphCell(samples) {
	var peak = fmt.peak(samples);
	return E('td', { 'class': 'td', 'data-title': _('Packet rate, last 5 minutes') }, [
		E('div', { 'title': _('Highest: %s').format(fmt.packetRate(peak)) }, E(fmt.graph(samples))),
		E('small', {}, _('peak %s').format(fmt.packetRate(peak)))
	]);
}

function ruleTable(inst, history) {
	var titles = [ _('Rule'), _('Bytes'), _('Packets'), _('Rate'), _('Packet rate'), _('Packet rate, last 5 minutes') ];
	var table = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, titles.map(function(t, i) {
			return E('th', { 'class': (i && i < 5) ? 'th right' : 'th' }, t);
		}))
	]);

	inst.rules.forEach(function(row) {
		var cells = row.map(function(cell, i) {
			return E('td', { 'class': i ? 'td right' : 'td', 'data-title': titles[i] }, cell);
		});
		cells.push(graphCell(history.samples(inst.name, row[0])));
		table.appendChild(E('tr', { 'class': 'tr', 'data-rule': row[0] }, cells));
	});

	if (!inst.rules.length)
		table.appendChild(E('tr', { 'class': 'tr placeholder' },
			E('td', { 'class': 'td' }, E('em', {}, _('No rules')))));

	return table;
}

function row(label, value) {
	return E('tr', { 'class': 'tr' }, [
		E('td', { 'class': 'td left', 'width': '33%' }, label),
		E('td', { 'class': 'td left' }, value)
	]);
}

function instanceSection(inst, history) {
	return E('div', { 'class': 'cbi-section', 'data-instance': inst.name }, [
		E('h3', {}, inst.name),
		inst.error ? alertBox('warning', _('Not counting: %s. bpfcountd retries every second.').format(inst.error)) : '',
		E('table', { 'class': 'table' }, [
			row(_('Interface'), inst.interface),
			row(_('State'), STATE_LABELS[inst.state] || inst.state),
			row(_('Prefilter'), inst.prefilter || E('em', {}, _('none'))),
			row(_('Kernel filter'), kernelFilterText(inst.kernelFilter)),
			row(_('Packets seen by the kernel'), inst.received),
			row(_('Dropped'), _('%s (%s), by the interface: %s').format(inst.dropped, inst.dropRatio, inst.ifdropped))
		]),
		ruleTable(inst, history)
	]);
}

return view.extend({
	load: function() {
		/* A daemon that is not running has no ubus object: show that instead of failing. */
		return Promise.all([
			fetchAll().catch(function(err) { return { error: err }; }),
			fetchSavedVerdict()
		]);
	},

	/* The whole instance list, or the reason there is none */
	renderInstances: function(reply) {
		if (reply.error)
			return alertBox('warning', fmt.errorMessage(reply.error, 'stats'));

		var list = fmt.instances(reply[0], reply[1]);
		if (!list.length)
			return E('p', {}, E('em', {}, _('bpfcountd runs no instance: enable a section under Services → bpfcountd.')));

		return list.map(function(inst) { return instanceSection(inst, this.history); }, this);
	},

	renderVerdict: function(verdict) {
		if (verdict == null || verdict.ok !== false)
			return '';
		return alertBox('warning', _('The saved configuration has an error, so a reload does not apply it (the rules running now keep counting): %s').format(verdict.error || '?'));
	},

	update: function(reply) {
		if (reply.error)
			this.history.gap();
		else
			this.history.record(reply[0], Date.now());
		dom.content(this.instancesNode, this.renderInstances(reply));
	},

	handleReload: function() {
		var self = this;
		return callReload().then(function() {
			ui.addNotification(null, E('p', {}, _('bpfcountd re-reads its configuration.')), 'info');
			return fetchSavedVerdict().then(function(verdict) {
				dom.content(self.verdictNode, self.renderVerdict(verdict));
			});
		}).catch(function(err) {
			ui.addNotification(null, E('p', {}, fmt.errorMessage(err, 'reload')), 'error');
		});
	},

	render: function(data) {
		var self = this;

		this.history = fmt.rateHistory();
		this.instancesNode = E('div', { 'id': 'bpfcountd-instances' });
		this.verdictNode = E('div', { 'id': 'bpfcountd-verdict' }, this.renderVerdict(data[1]));
		this.update(data[0]);

		poll.add(function() {
			return fetchAll().then(function(reply) {
				self.update(reply);
			}, function(err) {
				self.update({ error: err });
			});
		}, 5);

		/* Read-only users (ACL read only) get no reload button. */
		var canWrite = L.hasViewPermission();

		return E([], [
			E('h2', {}, _('Traffic counters (bpfcountd)')),
			E('div', { 'class': 'cbi-map-descr' },
				_('Bytes and packets counted per filter rule. Rates are averages over the last seconds; the graphs show the packet rate between two updates, for the last 5 minutes while this page is open. Updated every 5 seconds.')),
			canWrite ? E('div', { 'class': 'right' }, E('button', {
				'class': 'cbi-button cbi-button-action',
				'click': ui.createHandlerFn(this, 'handleReload')
			}, _('Reload configuration'))) : '',
			this.verdictNode,
			this.instancesNode
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
