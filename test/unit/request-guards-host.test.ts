/**
 * The DNS-rebinding guard: which Host values a listener accepts (hostNames, hostHeaderAllowed),
 * for IPv4 and IPv6 loopback, the link-local endpoint on port 80, wildcard binds and unix sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ListenAddress } from '../../src/core/config/listen-address.js';
import { hostHeaderAllowed, hostNames } from '../../src/net/request-guards.js';

const tcp = (host: string, port: number): ListenAddress => ({ kind: 'tcp', host, port });
const allows = (address: ListenAddress, host: string | undefined, extra: readonly string[] = []) =>
  hostHeaderAllowed(host, address, hostNames(address, extra));

test('IPv4 loopback: its address and localhost, with the port, in any case', () => {
  const address = tcp('127.0.0.1', 1338);
  for (const host of ['127.0.0.1:1338', 'localhost:1338', 'LOCALHOST:1338']) assert.equal(allows(address, host), true, host);
  for (const host of ['127.0.0.1', '127.0.0.1:1339', 'rebind.example:1338', '127.0.0.2:1338', '', undefined])
    assert.equal(allows(address, host), false, String(host));
});

test('IPv6 loopback: the bracketed address and localhost', () => {
  const address = tcp('::1', 1338);
  for (const host of ['[::1]:1338', 'localhost:1338']) assert.equal(allows(address, host), true, host);
  for (const host of ['::1:1338', '[::1]', '[::2]:1338', '127.0.0.1:1338']) assert.equal(allows(address, host), false, host);
});

test('port 80 (the ECS-style endpoint): with or without the port', () => {
  const address = tcp('169.254.170.2', 80);
  for (const host of ['169.254.170.2', '169.254.170.2:80']) assert.equal(allows(address, host), true, host);
  assert.equal(allows(address, '169.254.170.2:8080'), false);
  const v6 = tcp('fd00:ec2::23', 80);
  for (const host of ['[fd00:ec2::23]', '[fd00:ec2::23]:80']) assert.equal(allows(v6, host), true, host);
});

test('a wildcard bind accepts any IP literal but no DNS name', () => {
  for (const address of [tcp('0.0.0.0', 1338), tcp('::', 1338)]) {
    for (const host of ['10.0.0.5:1338', '10.0.0.5', '[fd00::1]:1338']) assert.equal(allows(address, host), true, host);
    for (const host of ['rebind.example:1338', 'localhost:1338', undefined]) assert.equal(allows(address, host), false, String(host));
  }
});

test('allowed_hosts adds names, compared without case; a unix socket accepts any Host', () => {
  const address = tcp('127.0.0.1', 1338);
  assert.equal(allows(address, 'Sidekey.Internal:1338', ['sidekey.internal:1338']), true);
  assert.equal(allows(address, 'sidekey.internal', ['sidekey.internal:1338']), false);
  const unix: ListenAddress = { kind: 'unix', path: '/run/sidekey/creds.sock' };
  assert.equal(allows(unix, undefined), true);
  assert.equal(allows(unix, 'anything'), true);
});
