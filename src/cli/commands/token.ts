import type { Command } from 'commander';
import { randomToken, TOKEN_BYTES } from '../../core/crypto/random-token.js';

export function registerToken(program: Command): void {
  program
    .command('token')
    .description(`print a new random token (${TOKEN_BYTES} random bytes, URL-safe base64)`)
    .action(() => {
      process.stdout.write(`${randomToken()}\n`);
    });
}
