'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require dom';
'require bpfcountd.format as fmt';

/* Live traffic counters of every bpfcountd instance, from `ubus call bpfcountd stats`. */

var callStats = rpc.declare({
	object: 'bpfcountd',
	method: 'stats',
	expect: { '': {} },
	/* a ubus error status rejects instead of resolving with the bare code */
	reject: true
});

var callReload = rpc.declare({
	object: 'bpfcountd',
	method: 'reload',
	reject: true
});

var STATE_LABELS = {
	running: _('running'),
	waiting: _('waiting for the interface')
};

function ruleTable(rows) {
	var table = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, [
			E('th', { 'class': 'th' }, _('Rule')),
			E('th', { 'class': 'th right' }, _('Bytes')),
			E('th', { 'class': 'th right' }, _('Packets')),
			E('th', { 'class': 'th right' }, _('Rate')),
			E('th', { 'class': 'th right' }, _('Packet rate'))
		])
	]);

	rows.forEach(function(row) {
		table.appendChild(E('tr', { 'class': 'tr' }, row.map(function(cell, i) {
			return E('td', { 'class': i ? 'td right' : 'td' }, cell);
		})));
	});

	if (!rows.length)
		table.appendChild(E('tr', { 'class': 'tr placeholder' },
			E('td', { 'class': 'td' }, E('em', _('No rules')))));

	return table;
}

function instanceSection(inst) {
	return E('div', { 'class': 'cbi-section', 'data-instance': inst.name }, [
		E('h3', inst.name),
		E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left', 'width': '33%' }, _('Interface')), E('td', { 'class': 'td left' }, inst.interface) ]),
			E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left' }, _('State')), E('td', { 'class': 'td left' }, STATE_LABELS[inst.state] || inst.state) ]),
			E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left' }, _('Prefilter')), E('td', { 'class': 'td left' }, inst.prefilter || E('em', _('none'))) ]),
			E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left' }, _('Packets seen by the kernel')), E('td', { 'class': 'td left' }, inst.received) ]),
			E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left' }, _('Dropped')),
				E('td', { 'class': 'td left' }, _('%s (%s), by the interface: %s').format(inst.dropped, inst.dropRatio, inst.ifdropped)) ])
		]),
		ruleTable(inst.rules)
	]);
}

function renderInstances(stats) {
	var list = fmt.instances(stats);

	if (!list.length)
		return E('p', {}, E('em', _('No bpfcountd instance is configured or running.')));

	return list.map(instanceSection);
}

return view.extend({
	load: function() {
		/* A daemon that is not running has no ubus object: show that instead of failing. */
		return callStats().catch(function(err) { return { error: err }; });
	},

	render: function(stats) {
		var container = E('div', { 'id': 'bpfcountd-instances' });
		var failed = stats && stats.error instanceof Error;

		dom.content(container, failed
			? E('p', {}, E('em', _('bpfcountd does not answer on ubus: %s').format(stats.error.message)))
			: renderInstances(stats));

		poll.add(function() {
			return callStats().then(function(next) {
				dom.content(container, renderInstances(next));
			}).catch(function(err) {
				dom.content(container, E('p', {}, E('em', _('bpfcountd does not answer on ubus: %s').format(err.message))));
			});
		}, 5);

		return E([], [
			E('h2', _('Traffic counters (bpfcountd)')),
			E('div', { 'class': 'cbi-map-descr' },
				_('Bytes and packets counted per filter rule; rates are averages over the last seconds. Updated every 5 seconds.')),
			E('div', { 'class': 'right' }, E('button', {
				'class': 'cbi-button cbi-button-action',
				'click': ui.createHandlerFn(this, function() {
					return callReload().then(function() {
						ui.addNotification(null, E('p', _('Configuration reloaded.')), 'info');
					}).catch(function(err) {
						ui.addNotification(null, E('p', _('Reload failed: %s').format(err.message)), 'error');
					});
				})
			}, _('Reload configuration'))),
			container
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
