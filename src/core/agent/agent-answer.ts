/**
 * What the agent API answers, in the Secrets Manager Agent's own terms: a body and a status. An
 * error body is `{"__type": CODE, "message": MESSAGE}` (the agent's shape, Secrets Manager's codes),
 * or `{"__type":"InternalFailure"}` when there is nothing safe to say.
 */
export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }

  body(): string {
    return this.type === 'InternalFailure' || this.message === ''
      ? JSON.stringify({ __type: 'InternalFailure' })
      : JSON.stringify({ __type: this.type, message: this.message });
  }
}

/** Which version of which secret: GetSecretValue's inputs. */
export interface SecretQuery {
  readonly secretId: string;
  readonly versionId?: string | undefined;
  readonly versionStage?: string | undefined;
}
