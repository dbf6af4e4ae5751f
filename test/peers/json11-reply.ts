/** An answer in the AWS JSON 1.1 protocol (KMS, Secrets Manager): the body, its type, a request id, and the error type when it is one. */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export function replyJson11(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}
