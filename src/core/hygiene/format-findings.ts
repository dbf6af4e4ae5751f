/** Renders findings for people (text) or programs (JSON, a stable shape). */
import type { Finding, Severity } from './finding.js';

export interface FindingsSummary {
  readonly fail: number;
  readonly warn: number;
  readonly info: number;
}

export function summarize(findings: readonly Finding[]): FindingsSummary {
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return { fail: count('fail'), warn: count('warn'), info: count('info') };
}

const LABEL: Readonly<Record<Severity, string>> = { fail: 'FAIL', warn: 'WARN', info: 'INFO' };

export function formatFindingsText(file: string, findings: readonly Finding[]): string {
  const lines = findings.map((f) => `${LABEL[f.severity]} ${f.id} at ${f.path}\n     ${f.message}\n     fix: ${f.fix}`);
  const s = summarize(findings);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(`${file}: ${plural(s.fail, 'failure')}, ${plural(s.warn, 'warning')}, ${plural(s.info, 'note')}`);
  return `${lines.join('\n')}\n`;
}

export function formatFindingsJson(file: string, findings: readonly Finding[]): string {
  return `${JSON.stringify({ file, summary: summarize(findings), findings }, null, 2)}\n`;
}
