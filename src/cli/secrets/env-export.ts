/** `exec --env VAR=name[:serial]` specs, and the json / dotenv output of `export`. */
import { SidekeyError } from '../../core/errors.js';
import { checkName, parseSerial } from '../../core/secrets/secret-errors.js';

export interface EnvSpec {
  readonly variable: string;
  readonly name: string;
  readonly serial?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvSpec(text: string): EnvSpec {
  const match = /^([^=]+)=([^:]+)(?::(.+))?$/.exec(text);
  if (!match) throw new SidekeyError('USAGE', `--env ${text}: expected VAR=secret-name or VAR=secret-name:serial`);
  const variable = match[1] as string;
  if (!ENV_NAME.test(variable)) throw new SidekeyError('USAGE', `--env ${text}: ${variable} is not a valid environment variable name`);
  const name = checkName(match[2] as string, 'secret name');
  return { variable, name, ...(match[3] !== undefined ? { serial: parseSerial(match[3], `serial in --env ${variable}`) } : {}) };
}

/** The variable a secret is exported as in dotenv: db-password -> DB_PASSWORD. */
export function envNameOf(name: string): string {
  return name.toUpperCase().replaceAll('-', '_');
}

function dotenvValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

export const EXPORT_FORMATS = ['json', 'dotenv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function formatExport(values: ReadonlyMap<string, string>, format: ExportFormat): string {
  if (format === 'json') return `${JSON.stringify(Object.fromEntries(values), null, 2)}\n`;
  return [...values].map(([name, value]) => `${envNameOf(name)}=${dotenvValue(value)}\n`).join('');
}
