'use strict';
'require view';
'require form';
'require rpc';
'require ui';
'require tools.widgets as widgets';
'require bpfcountd.format as fmt';

/*
 * /etc/config/bpfcountd in a form: one `config bpfcountd '<name>'` section
 * per counted interface and direction. Before a section's rules are saved
 * the daemon judges them (`ubus call bpfcountd check`): a rule it would
 * refuse on reload stops the save, with its message. Save & Apply goes
 * through LuCI's usual apply; procd's reload trigger then reloads the daemon.
 * Users without write access get the form read-only (form.Map asks rpcd).
 */

var callCheck = rpc.declare({
	object: 'bpfcountd',
	method: 'check',
	params: [ 'rules', 'ifname', 'prefilter' ],
	reject: true
});

var callCheckSaved = rpc.declare({
	object: 'bpfcountd',
	method: 'check',
	expect: { config: {} },
	reject: true
});

function asList(v) {
	if (Array.isArray(v))
		return v.filter(function(s) { return s != null && String(s).trim() != ''; });
	return (v == null || v === '') ? [] : [ v ];
}

return view.extend({
	/* Daemon verdicts by rule line for the section being edited, for the inline validation */
	verdicts: {},

	/* Whether this page has already said that the daemon could not check */
	warnedUnchecked: false,

	load: function() {
		return callCheckSaved().catch(function(err) { return { unreachable: err }; });
	},

	/*
	 * Asks the daemon about a section's rules; resolves with the refusals
	 * (strings), [] when all pass or when the daemon cannot be asked (it then
	 * checks them itself on start, and the status page shows what it refused).
	 */
	checkSection: function(ifname, prefilter, rules) {
		var self = this;
		return callCheck(rules, ifname || undefined, prefilter || undefined).then(function(reply) {
			(reply && Array.isArray(reply.rules) ? reply.rules : []).forEach(function(v, i) {
				self.verdicts[rules[i]] = (v && v.ok === false) ? fmt.refusals({ rules: [ v ] })[0] : null;
			});
			return fmt.refusals(reply);
		}, function(err) {
			if (!self.warnedUnchecked) {
				self.warnedUnchecked = true;
				ui.addNotification(null, E('p', {}, _('The rules could not be checked: %s').format(fmt.errorMessage(err, 'check'))), 'warning');
			}
			return [];
		});
	},

	render: function(saved) {
		var self = this;
		var m, s, o;

		m = new form.Map('bpfcountd', _('Traffic counters (bpfcountd)'),
			_('Each section counts packets and bytes per filter rule on one interface. Rules are written as <code>id;tcpdump expression</code>; <code>$MAC</code> stands for the interface\'s MAC address, <code>${id}</code> for an earlier rule. The counters are on Status → Traffic counters.'));

		s = m.section(form.TypedSection, 'bpfcountd', _('Counted interfaces'),
			_('The section name is the instance name shown on the status page and used by <code>bpfcountd --query</code>.'));
		s.addremove = true;
		s.anonymous = false;
		s.addbtntitle = _('Add instance');

		o = s.option(form.Flag, 'disabled', _('Enabled'));
		o.enabled = '0';
		o.disabled = '1';
		o.default = o.enabled;
		o.rmempty = false;

		o = s.option(widgets.DeviceSelect, 'ifname', _('Interface'),
			_('An interface that does not exist yet may be named too: the instance waits for it.'));
		o.noaliases = true;
		o.rmempty = false;
		o.validate = function(section_id, value) {
			return fmt.ifnameError(value) || true;
		};

		o = s.option(form.Value, 'prefilter', _('Prefilter'),
			_('A tcpdump expression every counted packet must match first, e.g. <code>inbound</code> or <code>outbound</code>.'));
		o.placeholder = 'inbound';

		o = s.option(form.Value, 'filterfile', _('Filter file'),
			_('A file with one <code>id;expression</code> rule per line. Its rules come before the rules below; a section needs the file, rules, or both.'));
		o.placeholder = '/etc/bpfcountd.filters';
		o.validate = function(section_id, value) {
			return (value == '' || value.charAt(0) == '/') ? true : _('The path must be absolute');
		};

		o = s.option(form.DynamicList, 'rule', _('Rules'),
			_('One <code>id;expression</code> per entry, e.g. <code>arp;arp</code> or <code>mdns;udp port 5353</code>. bpfcountd checks them when you save.'));
		o.placeholder = 'arp;arp';
		o.validate = function(section_id, value) {
			if (value == null || value === '')
				return true;
			return fmt.ruleLineError(value) || self.verdicts[value] || true;
		};
		/* The daemon's judgement comes before LuCI writes anything: a refusal stops the save. */
		o.parse = function(section_id) {
			var option = this;
			var parent = form.DynamicList.prototype.parse;
			var sectionValue = function(name) { return option.section.formvalue(section_id, name); };

			if (!this.isActive(section_id))
				return parent.call(this, section_id);

			var rules = asList(this.formvalue(section_id));
			if (!rules.length && !sectionValue('filterfile'))
				return Promise.reject(new TypeError(_('Section "%s" needs a filter file or at least one rule.').format(section_id)));

			/* A disabled section does not run: it may be saved half-done. */
			if (sectionValue('disabled') == '1' || !rules.length)
				return parent.call(this, section_id);

			return self.checkSection(sectionValue('ifname'), sectionValue('prefilter'), rules).then(function(refused) {
				if (refused.length)
					return Promise.reject(new TypeError(_('bpfcountd refuses section "%s": %s').format(section_id, refused.join('; '))));
				return parent.call(option, section_id);
			});
		};

		o = s.option(form.Value, 'buffersize', _('Buffer size'),
			_('Bytes of kernel buffer for the capture; more survives bursts, costs RAM.'));
		o.datatype = 'range(1,2147483647)';
		o.placeholder = '2097152';

		o = s.option(form.Value, 'socket', _('Counter socket'),
			_('Where the counters are served; default <code>/var/run/bpfcountd/&lt;name&gt;.sock</code>.'));
		o.placeholder = '/var/run/bpfcountd/<name>.sock';
		o.validate = function(section_id, value) {
			return fmt.socketError(value) || true;
		};

		return m.render().then(function(node) {
			var notes = [];
			if (saved && saved.unreachable)
				notes.push(E('div', { 'class': 'alert-message notice' }, E('p', {}, fmt.errorMessage(saved.unreachable, 'check'))));
			else if (saved && saved.ok === false)
				notes.push(E('div', { 'class': 'alert-message warning' }, E('p', {},
					_('The saved configuration has an error, so a reload does not apply it (the rules running now keep counting): %s').format(saved.error || '?'))));
			return E([], notes.concat([ node ]));
		});
	}
});
