/**
 * What the agent API answers, in the Secrets Manager Agent's own terms: a body and a status. An
 * error body is `{"__type": CODE, "message": MESSAGE}` (the agent's shape, Secrets Manager's codes),
 * or `{"__type":"InternalFailure"}` when there is nothing safe to say. A refusal of the query
 * itself (`query`) is the bare message as plain text, as the agent's own query parser answers.
 */
export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly form: 'json' | 'text' = 'json',
  ) {
    super(message);
    this.name = 'AgentError';
  }

  /** A 400 for a query the agent cannot read (an unknown or missing parameter, a bad value). */
  static query(message: string): AgentError {
    return new AgentError(400, 'InvalidParameterException', message, 'text');
  }

  body(): string {
    if (this.form === 'text') return this.message;
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
