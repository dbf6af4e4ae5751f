/** Process exit codes; only cli/ calls process.exit. */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** 128 + SIGINT */
  SIGINT: 130,
  /** 128 + SIGTERM */
  SIGTERM: 143,
} as const;
