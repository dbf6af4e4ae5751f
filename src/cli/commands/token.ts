import type { Command } from 'commander';
import { randomToken, TOKEN_BYTES } from '../../core/crypto/random-token.js';

/**
 * A token as printed for `stdout`: with a line ending on a terminal, bare when redirected. SDKs
 * send an AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE's content as it is (botocore refuses a token
 * holding "\n", the JS SDK cannot send it as a header), so `sidekey token > file` must write none.
 */
export function tokenOutput(token: string, stream: { readonly isTTY?: boolean } = process.stdout): string {
  return stream.isTTY ? `${token}\n` : token;
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description(
      `print a new random token (${TOKEN_BYTES} random bytes, URL-safe base64); no line ending unless stdout is a terminal, so \`sidekey token > file\` makes a token file the SDKs accept`,
    )
    .action(() => {
      process.stdout.write(tokenOutput(randomToken()));
    });
}
