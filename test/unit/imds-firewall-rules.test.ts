import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { formatFirewallCommands, IMDS_IPV4, IMDS_IPV6, imdsFirewallCommands } from '../../src/core/imds/firewall-rules.js';

const run = promisify(execFile);

test('blocking rules come before the redirects, for IPv4 and IPv6', () => {
  const commands = imdsFirewallCommands({ iface: 'docker0', port: 8169 });
  const index = (predicate: (argv: readonly string[]) => boolean) => commands.findIndex((c) => predicate(c.argv));
  const block4 = index((a) => a[0] === 'iptables' && a.includes('FORWARD') && a.includes(`${IMDS_IPV4}/32`) && a.includes('REJECT'));
  const block6 = index((a) => a[0] === 'ip6tables' && a.includes('FORWARD') && a.includes(`${IMDS_IPV6}/128`) && a.includes('REJECT'));
  const loopback = index((a) => a.includes('INPUT') && a.includes('127.0.0.0/8') && a.includes('DROP'));
  const localnet = index((a) => a[0] === 'sysctl');
  const dnat4 = index((a) => a[0] === 'iptables' && a.includes('DNAT') && a.includes('127.0.0.1:8169') && a.includes('docker0'));
  const redirect6 = index((a) => a[0] === 'ip6tables' && a.includes('REDIRECT') && a.includes('8169'));
  for (const i of [block4, block6, loopback, localnet, dnat4, redirect6]) assert.ok(i >= 0);
  assert.ok(Math.max(block4, block6, loopback) < Math.min(localnet, dnat4, redirect6), 'every block precedes every opening');
  for (const c of commands) assert.ok(c.argv.includes('docker0') || c.argv.some((a) => a.includes('docker0')), c.argv.join(' '));
});

test('formatted rules are a commented shell script; bad interfaces and ports are refused', () => {
  const text = formatFirewallCommands(imdsFirewallCommands({ iface: 'br-1a2b', port: 9000 }));
  assert.match(text, /^# block first/m);
  assert.match(text, /--to-destination 127\.0\.0\.1:9000/);
  assert.match(text, /'!' --ctstate/);
  for (const iface of ['docker0; rm -rf /', 'a'.repeat(16), '', '..', 'eth 0'])
    assert.throws(() => imdsFirewallCommands({ iface, port: 8169 }));
  assert.throws(() => imdsFirewallCommands({ iface: 'docker0', port: 0 }));
});

test('sidekey imds rules prints them; --apply needs root or says so', async () => {
  const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, [cli, 'imds', 'rules', '--interface', 'docker0', '--port', '8170']);
  assert.equal(stdout, formatFirewallCommands(imdsFirewallCommands({ iface: 'docker0', port: 8170 })));
  await assert.rejects(run(process.execPath, [cli, 'imds', 'rules', '--interface', 'docker0;reboot']), /interface/);
  await assert.rejects(run(process.execPath, [cli, 'imds', 'rules', '--interface', 'docker0', '--port', '99999']), /port/);
});
