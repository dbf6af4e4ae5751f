/**
 * Credentials must reach callers with more than 15 minutes left: the AWS SDKs treat credentials
 * that expire within 15 minutes as due for refresh (botocore's advisory window), so each call
 * would fetch again. The daemon refreshes ahead when less than `refresh_buffer_seconds` is left,
 * so the least lifetime a caller receives is the smaller of the session and the buffer.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

/** Credentials handed out with this little lifetime left (or less) are a finding: 15 minutes. */
export const MIN_HANDED_OUT_SECONDS = 15 * 60;

export function checkSessions(loaded: LoadedConfig): Finding[] {
  const { config } = loaded;
  const buffer = config.credentials.refresh_buffer_seconds;
  const findings: Finding[] = [];
  const fix = `set DurationSeconds to 3600 or more (the role's MaxSessionDuration must allow it) and credentials.refresh_buffer_seconds above ${MIN_HANDED_OUT_SECONDS} and below DurationSeconds`;
  if (buffer <= MIN_HANDED_OUT_SECONDS) {
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
    const path = `services.${name}.assumed_role.DurationSeconds`;
    if (duration <= MIN_HANDED_OUT_SECONDS) {
      findings.push(
        finding(
          'session-too-short',
          path,
          `DurationSeconds ${duration} hands out credentials with at most ${duration} s left; ${MIN_HANDED_OUT_SECONDS} s or less makes the AWS SDKs fetch again on every call`,
          fix,
        ),
      );
    } else if (duration <= buffer) {
      findings.push(
        finding(
          'session-too-short',
          path,
          `DurationSeconds ${duration} is not longer than credentials.refresh_buffer_seconds ${buffer}, so fresh credentials are already due for refresh and the daemon calls STS on every request`,
          fix,
        ),
      );
    }
  }
  return findings;
}
