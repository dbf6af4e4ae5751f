/**
 * A service's token file that ends in a newline: sidekey reads past one, but an application that
 * points AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE at the same file sends it as it is, and botocore
 * (the AWS CLI, boto3) refuses the header ("not a legal header value") while the JS SDK v2 throws.
 * `sidekey token > FILE` and `sidekey init` write none; `echo` and most editors add one.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { readRegularFile } from '../config/read-regular-file.js';
import { MAX_SUBSTITUTED_FILE_BYTES } from '../config/substitute.js';
import { type Finding, finding } from './finding.js';

const SERVICE_TOKEN_KEY = /^services\.[^.]+\.auth_token$/;

export function checkTokenFiles(loaded: LoadedConfig): Finding[] {
  const files = new Map<string, string>();
  for (const [name, service] of Object.entries(loaded.config.services))
    if (service.auth_token_file !== undefined) files.set(service.auth_token_file, `services.${name}.auth_token_file`);
  for (const record of loaded.substitutions)
    if (record.source === 'file' && SERVICE_TOKEN_KEY.test(record.keyPath) && !files.has(record.ref)) files.set(record.ref, record.keyPath);
  const findings: Finding[] = [];
  for (const [file, path] of files) {
    let text: Buffer;
    try {
      text = readRegularFile(file, MAX_SUBSTITUTED_FILE_BYTES);
    } catch {
      continue; // secret-file-missing reports it
    }
    if (text.at(-1) !== 0x0a) continue;
    findings.push(
      finding(
        'token-file-newline',
        path,
        `${file} ends in a newline: an application reading it through AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE sends the newline, and botocore refuses the token ("not a legal header value")`,
        `rewrite it without one: printf '%s' "$(cat ${file})" > ${file}.new && mv ${file}.new ${file} (or sidekey token > ${file}, then reload)`,
      ),
    );
  }
  return findings;
}
