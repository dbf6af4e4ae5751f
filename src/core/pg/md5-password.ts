/** PostgreSQL's MD5 password answer: "md5" + md5(md5(password + user) + salt), in hex. */
import { createHash } from 'node:crypto';

const md5Hex = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

export function md5PasswordAnswer(user: string, password: string, salt: Buffer): string {
  return `md5${md5Hex(Buffer.concat([Buffer.from(md5Hex(password + user), 'utf8'), salt]))}`;
}
