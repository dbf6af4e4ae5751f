/**
 * The template language of `sidekey secrets render`: text with `{{ secret "NAME" }}` where the
 * latest version of NAME goes (NAME as the reader takes it: a sidekey secret, or through the agent
 * API a Secrets Manager secret or ssm:PARAMETER). Nothing else is an action, so anything else between `{{`
 * and `}}` is an error that says where it is, rather than text that renders half a config.
 */
import { SidekeyError } from '../../core/errors.js';

const ACTION = /\{\{(.*?)\}\}/gs;
const SECRET = /^\s*secret\s+"([^"\s]+)"\s*$/;

export interface SecretTemplate {
  /** The secret names it uses, each once, in order of first use. */
  readonly names: readonly string[];
  render(values: ReadonlyMap<string, string>): string;
}

function where(text: string, index: number): string {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return `${line}:${index - before.lastIndexOf('\n')}`;
}

export function parseSecretTemplate(text: string, file: string): SecretTemplate {
  const parts: (string | { name: string })[] = [];
  let at = 0;
  for (const match of text.matchAll(ACTION)) {
    const inner = match[1] as string;
    const secret = SECRET.exec(inner);
    if (!secret)
      throw new SidekeyError(
        'USAGE',
        `${file}:${where(text, match.index)}: unknown template action {{${inner.slice(0, 60)}}}; the one action is {{ secret "NAME" }}`,
      );
    parts.push(text.slice(at, match.index), { name: secret[1] as string });
    at = match.index + match[0].length;
  }
  const rest = text.slice(at);
  const open = rest.indexOf('{{');
  if (open !== -1) throw new SidekeyError('USAGE', `${file}:${where(text, at + open)}: {{ is never closed by }}`);
  parts.push(rest);
  const names = [...new Set(parts.flatMap((p) => (typeof p === 'string' ? [] : [p.name])))];
  return {
    names,
    render: (values) => parts.map((p) => (typeof p === 'string' ? p : (values.get(p.name) ?? ''))).join(''),
  };
}
