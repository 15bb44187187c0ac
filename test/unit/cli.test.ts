import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEFAULT_BUFFER_SIZE, DEFAULT_SOCKET, parseArgs, UsageError } from '../../src/cli';

describe('command line', () => {
  it('takes the metrics options: listener, textfile, interval (off by default)', () => {
    const off = parseArgs(['-i', 'eth0', '-f', 'r']);
    assert.deepEqual([off.metricsListen, off.metricsTextfile, off.metricsInterval], [undefined, undefined, undefined]);
    const o = parseArgs(['-i', 'eth0', '-f', 'r', '--metrics-listen', '127.0.0.1:9102', '--metrics-textfile=/var/lib/node/bpfcountd.prom', '--metrics-interval', '2.5']);
    assert.deepEqual([o.metricsListen, o.metricsTextfile, o.metricsInterval], [{ host: '127.0.0.1', port: 9102 }, '/var/lib/node/bpfcountd.prom', 2.5]);
    assert.deepEqual(parseArgs(['-c', '/etc/config/bpfcountd', '--metrics-listen=[::1]:0']).metricsListen, { host: '::1', port: 0 });
    // In service mode the interval may go with a textfile set in UCI.
    assert.equal(parseArgs(['-c', '/etc/config/bpfcountd', '--metrics-interval', '60']).metricsInterval, 60);
  });
  it('has the C original\'s defaults', () => {
    const o = parseArgs(['-i', 'eth0', '-f', 'r.filters']);
    assert.equal(o.iface, 'eth0');
    assert.equal(o.filterFile, 'r.filters');
    assert.equal(o.socketPath, DEFAULT_SOCKET);
    assert.equal(DEFAULT_SOCKET, './test.sock');
    assert.equal(o.bufferSize, DEFAULT_BUFFER_SIZE);
    assert.equal(DEFAULT_BUFFER_SIZE, 2097152);
    assert.equal(o.prefilter, '');
  });
  it('takes getopt-style attached values and long options with =', () => {
    const o = parseArgs(['-ieth1', '-fr', '-Finbound', '-b1024', '-u/run/x.sock', '--mac=AA:bb:cc:dd:ee:ff', '--check']);
    assert.deepEqual([o.iface, o.filterFile, o.prefilter, o.bufferSize, o.socketPath, o.mac, o.check],
      ['eth1', 'r', 'inbound', 1024, '/run/x.sock', 'aa:bb:cc:dd:ee:ff', true]);
  });
  it('reads a capture file with -r', () => {
    assert.equal(parseArgs(['-r', 'x.pcap', '-f', 'r']).readFile, 'x.pcap');
  });
  it('prints help without other options', () => {
    assert.equal(parseArgs(['-h']).help, true);
  });
  for (const [args, message] of [
    [['-f', 'r'], /give an interface/],
    [['-i', 'eth0'], /missing -f/],
    [['-i', 'eth0', '-r', 'x', '-f', 'r'], /exclude each other/],
    [['-i', 'eth0', '-f', 'r', '-b', '12k'], /-b: '12k' is not a buffer size/],
    [['-i', 'eth0', '-f', 'r', '-b', '0'], /-b: '0'/],
    [['-r', 'x', '-f', 'r', '--mac', 'zz'], /--mac: 'zz' is not a MAC/],
    [['-i', 'eth0', '-f'], /option -f needs a value/],
    [['-x'], /unknown option '-x'/],
    [['-i', 'eth0', '-f', 'r', '--metrics-listen', '9102'], /--metrics-listen: '9102' is not <host>:<port>/],
    [['-i', 'eth0', '-f', 'r', '--metrics-listen=127.0.0.1:70000'], /--metrics-listen: port 70000 is out of range/],
    [['-i', 'eth0', '-f', 'r', '--metrics-textfile', '/t.prom', '--metrics-interval', '0'], /--metrics-interval: '0' is not an interval/],
    [['-i', 'eth0', '-f', 'r', '--metrics-interval', '5'], /--metrics-interval goes with --metrics-textfile/],
    [['-r', 'x', '-f', 'r', '--metrics-listen', '127.0.0.1:9102'], /--metrics-\* options go with a running daemon/],
    [['-i', 'eth0', '-f', 'r', '--check', '--metrics-textfile', '/t.prom'], /--metrics-\* options go with a running daemon/],
  ] as const) {
    it(`refuses ${args.join(' ')}`, () => {
      assert.throws(() => parseArgs(args), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }
});
