import { existsSync, readFileSync } from 'node:fs';

/** The lines a child process has written to `file` so far; none while it does not exist (a just-created empty file has none either). */
export function linesOf(file: string): string[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}
