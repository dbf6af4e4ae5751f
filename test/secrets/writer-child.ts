/**
 * A writer process for the durability test: creates versions of one secret as fast as it can
 * (8 in flight) and prints `ack SERIAL PAYLOAD` once each is acknowledged. The test kills it with
 * SIGKILL mid-stream. Does nothing unless SIDEKEY_WRITER_CHILD=1 (the test runner may load it).
 */
import { LocalKeyring } from '../../src/core/secrets/local-keyring.js';
import { SecretService } from '../../src/core/secrets/secret-service.js';
import { SqliteStore } from '../../src/core/secrets/sqlite-store.js';

const IN_FLIGHT = 8;

if (process.env.SIDEKEY_WRITER_CHILD === '1') {
  const [dbPath, keyFile] = process.argv.slice(2) as [string, string];
  const service = new SecretService({ store: new SqliteStore(dbPath), keyring: new LocalKeyring({ keyFile }) });
  let next = 0;
  const writer = async () => {
    for (;;) {
      const payload = `durable-${next++}`;
      const { serial } = await service.create('cryptex', 'stream', payload, { actor: 'writer' });
      process.stdout.write(`ack ${serial} ${payload}\n`);
    }
  };
  for (let i = 0; i < IN_FLIGHT; i++) void writer();
}
