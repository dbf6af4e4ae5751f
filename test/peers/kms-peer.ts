/**
 * A test peer for AWS KMS that speaks its JSON 1.1 protocol over HTTP (`X-Amz-Target:
 * TrentService.*`), verifies every request's SigV4 signature with the independent verifier, and
 * implements GenerateDataKey, Encrypt, Decrypt, DescribeKey and CreateAlias (keys and aliases) as real KMS does for
 * symmetric keys: ciphertext blobs name their key and are bound to the encryption context, and
 * Decrypt with a different context fails with InvalidCiphertextException.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { replyJson11 } from './json11-reply.js';
import { closeServer, listenLoopback } from './loopback-http.js';
import { type KnownKey, verifyRequest } from './sigv4-verifier.js';

export interface KmsCall {
  readonly operation: string;
  readonly keyId: string | undefined;
  readonly context: Readonly<Record<string, string>>;
  readonly accessKeyId: string;
}

export interface KmsPeer {
  readonly url: string;
  readonly region: string;
  /** Credentials the peer accepts. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly calls: KmsCall[];
  /** Creates a symmetric key (optionally with an alias) and returns its ARN. */
  createKey(alias?: string): string;
  /** Points an alias at another key (as UpdateAlias does), for key rotation tests. */
  setAlias(alias: string, arn: string): void;
  /** Holds Decrypt answers until release(), so a test can act while a decrypt is in flight. */
  holdDecrypts(): { waiting(): number; release(): void };
  close(): Promise<void>;
}

const ACCOUNT = '111122223333';
const BLOB_VERSION = 1;

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function canonical(context: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify(
      Object.keys(context)
        .sort()
        .map((k) => [k, context[k]]),
    ),
  );
}

function readJson(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startKmsPeer(options: { region?: string } = {}): Promise<KmsPeer> {
  const region = options.region ?? 'us-east-1';
  const credentials = { accessKeyId: 'AKIDKMSPEER00000001', secretAccessKey: `kms-peer-secret-${randomBytes(8).toString('hex')}` };
  const known = new Map<string, KnownKey>([[credentials.accessKeyId, credentials]]);
  const keys = new Map<string, Buffer>(); // key id -> material
  const aliases = new Map<string, string>(); // alias/NAME -> key id
  const calls: KmsCall[] = [];
  const arnOf = (id: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`;

  const resolveKey = (keyId: unknown): string => {
    if (typeof keyId !== 'string' || keyId === '') throw new KmsError('ValidationException', 'KeyId is required');
    let id = keyId;
    const aliasArn = /^arn:aws:kms:[^:]+:\d{12}:(alias\/.+)$/.exec(keyId);
    if (aliasArn) id = aliasArn[1] as string;
    if (id.startsWith('alias/')) {
      const target = aliases.get(id);
      if (!target) throw new KmsError('NotFoundException', `Alias ${arnOf(id).replace(':key/', ':')} is not found.`);
      return target;
    }
    const keyArn = /^arn:aws:kms:[^:]+:\d{12}:key\/(.+)$/.exec(id);
    if (keyArn) id = keyArn[1] as string;
    if (!keys.has(id)) throw new KmsError('NotFoundException', `Key '${arnOf(id)}' does not exist`);
    return id;
  };

  const contextOf = (value: unknown): Record<string, string> => {
    if (value === undefined) return {};
    if (!value || typeof value !== 'object' || Array.isArray(value))
      throw new KmsError('ValidationException', 'EncryptionContext must be a map');
    for (const v of Object.values(value))
      if (typeof v !== 'string') throw new KmsError('ValidationException', 'EncryptionContext values must be strings');
    return value as Record<string, string>;
  };

  const encrypt = (id: string, plaintext: Buffer, context: Record<string, string>): Buffer => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keys.get(id) as Buffer, nonce);
    cipher.setAAD(canonical(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const idBytes = Buffer.from(id, 'ascii');
    return Buffer.concat([Buffer.from([BLOB_VERSION, idBytes.length]), idBytes, nonce, body, cipher.getAuthTag()]);
  };

  const decrypt = (blob: Buffer, context: Record<string, string>): { id: string; plaintext: Buffer } => {
    if (blob.length < 2 + 12 + 16 || blob[0] !== BLOB_VERSION) throw new KmsError('InvalidCiphertextException', '');
    const idLength = blob[1] as number;
    const id = blob.subarray(2, 2 + idLength).toString('ascii');
    const material = keys.get(id);
    if (!material) throw new KmsError('InvalidCiphertextException', '');
    const nonce = blob.subarray(2 + idLength, 14 + idLength);
    const decipher = createDecipheriv('aes-256-gcm', material, nonce);
    decipher.setAAD(canonical(context));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    try {
      return { id, plaintext: Buffer.concat([decipher.update(blob.subarray(14 + idLength, blob.length - 16)), decipher.final()]) };
    } catch {
      // Real KMS says nothing more, whether the blob or the context was wrong.
      throw new KmsError('InvalidCiphertextException', '');
    }
  };

  const b64 = (value: unknown, field: string): Buffer => {
    if (typeof value !== 'string' || value === '') throw new KmsError('ValidationException', `${field} is required`);
    return Buffer.from(value, 'base64');
  };

  const operations: Record<string, (input: Record<string, unknown>, caller: string) => Record<string, unknown>> = {
    GenerateDataKey(input, caller) {
      const id = resolveKey(input.KeyId);
      const context = contextOf(input.EncryptionContext);
      const bytes =
        input.KeySpec === 'AES_256'
          ? 32
          : input.KeySpec === 'AES_128'
            ? 16
            : typeof input.NumberOfBytes === 'number'
              ? input.NumberOfBytes
              : 0;
      if (bytes < 1 || bytes > 1024) throw new KmsError('ValidationException', 'KeySpec or NumberOfBytes is required');
      calls.push({ operation: 'GenerateDataKey', keyId: arnOf(id), context, accessKeyId: caller });
      const plaintext = randomBytes(bytes);
      return {
        KeyId: arnOf(id),
        Plaintext: plaintext.toString('base64'),
        CiphertextBlob: encrypt(id, plaintext, context).toString('base64'),
      };
    },
    Encrypt(input, caller) {
      const id = resolveKey(input.KeyId);
      const context = contextOf(input.EncryptionContext);
      calls.push({ operation: 'Encrypt', keyId: arnOf(id), context, accessKeyId: caller });
      return {
        KeyId: arnOf(id),
        CiphertextBlob: encrypt(id, b64(input.Plaintext, 'Plaintext'), context).toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    DescribeKey(input, caller) {
      const id = resolveKey(input.KeyId);
      calls.push({ operation: 'DescribeKey', keyId: arnOf(id), context: {}, accessKeyId: caller });
      return {
        KeyMetadata: {
          AWSAccountId: ACCOUNT,
          KeyId: id,
          Arn: arnOf(id),
          Enabled: true,
          KeyState: 'Enabled',
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
        },
      };
    },
    CreateAlias(input, caller) {
      const alias = input.AliasName;
      if (typeof alias !== 'string' || !alias.startsWith('alias/') || alias.startsWith('alias/aws/'))
        throw new KmsError('ValidationException', 'AliasName must begin with alias/ and not alias/aws/');
      if (aliases.has(alias)) throw new KmsError('AlreadyExistsException', `An alias with the name ${alias} already exists`);
      const id = resolveKey(input.TargetKeyId);
      aliases.set(alias, id);
      calls.push({ operation: 'CreateAlias', keyId: arnOf(id), context: {}, accessKeyId: caller });
      return {};
    },
    Decrypt(input, caller) {
      const context = contextOf(input.EncryptionContext);
      const { id, plaintext } = decrypt(b64(input.CiphertextBlob, 'CiphertextBlob'), context);
      if (input.KeyId !== undefined && resolveKey(input.KeyId) !== id) {
        throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
      calls.push({ operation: 'Decrypt', keyId: arnOf(id), context, accessKeyId: caller });
      return { KeyId: arnOf(id), Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
  };

  let hold: { gate: Promise<void>; waiting: number } | undefined;

  const server: Server = createServer(async (req, res) => {
    const body = await readJson(req);
    if (hold && String(req.headers['x-amz-target']) === 'TrentService.Decrypt') {
      const held = hold;
      held.waiting += 1;
      await held.gate;
    }
    try {
      if (req.method !== 'POST') throw new KmsError('UnknownOperationException', 'KMS answers POST only', 404);
      const verified = verifyRequest(
        { method: req.method, url: req.url ?? '/', headers: req.headers, body },
        { keys: known, service: 'kms', region },
      );
      if (!verified.ok) throw new KmsError(verified.code, verified.message, 403);
      const target = String(req.headers['x-amz-target'] ?? '');
      const match = /^TrentService\.(\w+)$/.exec(target);
      const operation = match ? operations[match[1] as string] : undefined;
      if (!operation) throw new KmsError('UnknownOperationException', `unknown X-Amz-Target ${target}`);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new KmsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
      }
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new KmsError('SerializationException', 'the body is not JSON');
      }
      replyJson11(res, 200, operation(input, verified.accessKeyId));
    } catch (error) {
      const e = error instanceof KmsError ? error : new KmsError('KMSInternalException', String(error), 500);
      replyJson11(res, e.status, { __type: e.type, message: e.message }, e.type);
    }
  });
  const url = await listenLoopback(server);

  return {
    url,
    region,
    credentials,
    calls,
    createKey(alias) {
      const id = randomUUID();
      keys.set(id, randomBytes(32));
      if (alias) aliases.set(alias, id);
      return arnOf(id);
    },
    setAlias(alias, arn) {
      aliases.set(alias, resolveKey(arn));
    },
    holdDecrypts() {
      let release = () => {};
      const held = { gate: new Promise<void>((resolve) => (release = resolve)), waiting: 0 };
      hold = held;
      return {
        waiting: () => held.waiting,
        release: () => {
          if (hold === held) hold = undefined;
          release();
        },
      };
    },
    close: () => closeServer(server),
  };
}
