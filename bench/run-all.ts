/**
 * `npm run bench [-- NAME ...]`: runs every benchmark module in this folder (each exports
 * `run()`, which measures sidekey and its baseline side by side in one run and prints ratios).
 * Never part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((file) => file.endsWith('.js') && file !== 'run-all.js' && !file.startsWith('_'))
  .map((file) => file.replace(/\.js$/, ''))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

if (modules.length === 0) {
  process.stderr.write(`no benchmark matches ${wanted.join(', ')}\n`);
  process.exitCode = 2;
}
for (const name of modules) {
  const mod = (await import(pathToFileURL(join(here, `${name}.js`)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') continue;
  process.stdout.write(`\n=== ${name} ===\n`);
  const started = Date.now();
  try {
    await mod.run();
  } catch (error) {
    process.stderr.write(`${name}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
  process.stdout.write(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
