/** Every limit of the Postgres proxy, with its unit. Peers that exceed one are refused with a proper ErrorResponse. */

/** Largest first packet (StartupMessage with its parameters); PostgreSQL's own MAX_STARTUP_PACKET_LENGTH. */
export const MAX_STARTUP_PACKET_BYTES = 10 * 1024; // 10 KiB
/** Smallest first packet: length and code. */
export const MIN_STARTUP_PACKET_BYTES = 8;
/** Largest message read during login (auth exchanges, ParameterStatus, errors); the relay has no limit. */
export const MAX_LOGIN_MESSAGE_BYTES = 64 * 1024; // 64 KiB
/** Most startup parameters accepted from a client. */
export const MAX_STARTUP_PARAMETERS = 64;
/** Time a client has from connecting to a complete StartupMessage (slow-loris guard). */
export const STARTUP_TIMEOUT_MS = 10_000;
/** Time a local client has to finish SCRAM once asked. */
export const CLIENT_AUTH_TIMEOUT_MS = 30_000;
/** Time to open the TCP connection to the database or server proxy. */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;
/** Time for the whole upstream login: TLS, authentication, and up to ReadyForQuery. */
export const UPSTREAM_LOGIN_TIMEOUT_MS = 30_000;
/** Time to deliver a CancelRequest upstream before giving up. */
export const CANCEL_FORWARD_TIMEOUT_MS = 5_000;
/** After a shutdown notice is due, how long to wait for the server to reach a message boundary. */
export const SHUTDOWN_NOTICE_GRACE_MS = 1_000;
/** How often per-session byte counts are folded into the metrics. */
export const BYTE_METRICS_FLUSH_MS = 5_000;
/** Largest SCRAM iteration count accepted from a server (guards against a CPU-burning upstream). */
export const MAX_SCRAM_ITERATIONS = 1_000_000;
/** SCRAM iterations used when the proxy itself verifies a local client's password. */
export const LOCAL_SCRAM_ITERATIONS = 4096;
/** Longest a pooled upstream connection lives in total, however often it is reused (pgbouncer's server_lifetime default). */
/** Longest a new upstream login waits for its turn under max_logins_per_second before it is refused (53300). */
export const LOGIN_PACE_MAX_WAIT_MS = 5_000;
/** New upstream logins per second to an `auth: iam` target unless configured (AWS advises under 200 per database). */
export const DEFAULT_IAM_LOGINS_PER_SECOND = 100;
/** Most logins per second that can be configured. */
export const MAX_LOGINS_PER_SECOND = 100_000;
export const POOL_MAX_AGE_MS = 60 * 60 * 1000; // 1 h
/** Time for `DISCARD ALL` to answer before a returned connection is closed instead of parked. */
export const POOL_RESET_TIMEOUT_MS = 5_000;
/** The reset a returned connection gets before it is parked (pgbouncer's server_reset_query). */
export const POOL_RESET_QUERY = 'DISCARD ALL';
