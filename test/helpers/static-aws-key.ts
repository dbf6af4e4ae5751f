/**
 * Gives this test process one static AWS key in the environment, as the standard credential chain
 * reads it (the daemon in-process and the SDK signers then sign with it), and drops anything that
 * would take precedence or mix in: a session token, a profile.
 */
export interface StaticKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function useStaticAwsKey(key: StaticKey): StaticKey {
  process.env.AWS_ACCESS_KEY_ID = key.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = key.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return key;
}
