/**
 * Credentials must reach callers with more than 15 minutes left: the AWS SDKs treat credentials
 * that expire within 15 minutes as due for refresh (botocore's advisory window), so each call
 * would fetch again. The daemon refreshes ahead when less than `refresh_buffer_seconds` is left,
 * but not before half a session is used, so the least lifetime a caller receives is the buffer,
 * or half the session when the buffer is longer (leastLeftMs, the daemon's own schedule).
 */
import type { LoadedConfig } from '../config/load-config.js';
import { leastLeftMs } from '../credentials/refresh-policy.js';
import { type Finding, finding } from './finding.js';

/** Credentials handed out with this little lifetime left (or less) are a finding: 15 minutes. */
export const MIN_HANDED_OUT_SECONDS = 15 * 60;

export function checkSessions(loaded: LoadedConfig): Finding[] {
  const { config } = loaded;
  const buffer = config.credentials.refresh_buffer_seconds;
  const findings: Finding[] = [];
  const fix = `set DurationSeconds to 3600 or more (the role's MaxSessionDuration must allow it) and credentials.refresh_buffer_seconds above ${MIN_HANDED_OUT_SECONDS} and at most half of DurationSeconds`;
  const bufferTooShort = buffer <= MIN_HANDED_OUT_SECONDS;
  if (bufferTooShort) {
    findings.push(
      finding(
        'session-too-short',
        'credentials.refresh_buffer_seconds',
        `refresh_buffer_seconds ${buffer} lets credentials be handed out with ${buffer} s left; ${MIN_HANDED_OUT_SECONDS} s or less makes the AWS SDKs fetch again on every call`,
        fix,
      ),
    );
  }
  for (const [name, service] of Object.entries(config.services)) {
    const duration = service.assumed_role.DurationSeconds;
    const least = Math.floor(leastLeftMs(duration, buffer * 1000) / 1000);
    // Fine, or already said by the buffer's own finding.
    if (least > MIN_HANDED_OUT_SECONDS || (bufferTooShort && least >= buffer)) continue;
    findings.push(
      finding(
        'session-too-short',
        `services.${name}.assumed_role.DurationSeconds`,
        `DurationSeconds ${duration} hands out credentials with as little as ${least} s left (a session is refreshed once half of it is used, or when refresh_buffer_seconds ${buffer} is left); ${MIN_HANDED_OUT_SECONDS} s or less makes the AWS SDKs fetch again on every call`,
        fix,
      ),
    );
  }
  return findings;
}
