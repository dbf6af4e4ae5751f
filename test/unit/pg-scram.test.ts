import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { md5PasswordAnswer } from '../../src/core/pg/md5-password.js';
import { PgPeerError } from '../../src/core/pg/pg-peer-error.js';
import { ScramClient } from '../../src/core/pg/scram-client.js';
import { saslPrep } from '../../src/core/pg/scram-primitives.js';
import { ScramServerExchange, scramVerifier } from '../../src/core/pg/scram-server.js';

test('SCRAM client matches the RFC 7677 test vector (user "user", password "pencil")', () => {
  const client = new ScramClient('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user');
  assert.equal(client.clientFirst().toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  assert.equal(
    client.clientFinal(Buffer.from(serverFirst)).toString(),
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  assert.doesNotThrow(() => client.verifyServerFinal(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')));
  assert.throws(() => client.verifyServerFinal(Buffer.from('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')));
  assert.equal(new ScramClient('pw', 'abc').clientFirst().toString(), 'n,,n=,r=abc', 'PostgreSQL style: empty n=');
});

test('our SCRAM client and server agree, and each verifies the other', () => {
  const verifier = scramVerifier('correct horse battery');
  const client = new ScramClient('correct horse battery');
  const server = new ScramServerExchange(verifier);
  const serverFirst = server.serverFirst(client.clientFirst());
  const serverFinal = server.serverFinal(client.clientFinal(serverFirst), 'me');
  assert.doesNotThrow(() => client.verifyServerFinal(serverFinal));
});

test('a wrong password is 28P01; a forged server signature is rejected by the client', () => {
  const verifier = scramVerifier('right-password');
  const client = new ScramClient('wrong-password');
  const server = new ScramServerExchange(verifier);
  const serverFirst = server.serverFirst(client.clientFirst());
  assert.throws(
    () => server.serverFinal(client.clientFinal(serverFirst), 'me'),
    (e: unknown) => e instanceof PgPeerError && e.sqlState === '28P01',
  );
  const honest = new ScramClient('pw');
  const impostor = new ScramServerExchange(scramVerifier('other'));
  const first = impostor.serverFirst(honest.clientFirst());
  honest.clientFinal(first);
  assert.throws(() => honest.verifyServerFinal(Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`)), /server signature does not match/);
});

test('malformed or hostile SCRAM input is refused, not crashed on', () => {
  const server = new ScramServerExchange(scramVerifier('pw'));
  for (const bad of ['', 'x', 'p=tls-server-end-point,,n=,r=abc', 'n,,n=,', 'n,,m=ext,n=,r=abc']) {
    assert.throws(() => new ScramServerExchange(scramVerifier('pw')).serverFirst(Buffer.from(bad)), PgPeerError, bad);
  }
  server.serverFirst(Buffer.from('n,,n=,r=abc'));
  assert.throws(() => server.serverFinal(Buffer.from('c=biws,r=abc,p=AAAA'), 'me'), PgPeerError);
  const client = new ScramClient('pw', 'abc');
  client.clientFirst();
  assert.throws(() => client.clientFinal(Buffer.from('r=zzz,s=AAAA,i=4096')), /nonce/);
  assert.throws(() => new ScramClient('pw', 'abc').clientFinal(Buffer.from('r=abcd,s=AAAA,i=99999999')), /iteration count/);
});

test('SASLprep maps non-ASCII spaces and normalizes; MD5 answers match PostgreSQL', () => {
  assert.equal(saslPrep('a\u00a0b'), 'a b');
  assert.equal(saslPrep('\u2168'), 'IX');
  // SELECT 'md5' || md5(md5('secret' || 'bob') || 'salt') computed by PostgreSQL.
  assert.equal(md5PasswordAnswer('bob', 'secret', Buffer.from('salt')), `md5${md5(md5('secretbob') + 'salt')}`);
});

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}
