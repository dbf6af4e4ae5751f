/**
 * `sidekey setup --deploy`: creates the secrets backend stack, or updates it when it exists,
 * then follows its events until it settles, reporting each one. A stack that cannot be updated
 * (rolled back on creation, or busy) is refused with what to do about it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type Stack,
  type StackEvent,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { SidekeyError } from '../errors.js';

/** How often the stack's events are read while it settles. */
export const DEPLOY_POLL_INTERVAL_MS = 5000;
/** How long a deploy may take before sidekey stops waiting (the stack carries on). */
export const DEPLOY_TIMEOUT_MS = 30 * 60 * 1000;

const SUCCESS = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE']);
const FAILURE = new Set([
  'CREATE_FAILED',
  'ROLLBACK_COMPLETE',
  'ROLLBACK_FAILED',
  'UPDATE_ROLLBACK_COMPLETE',
  'UPDATE_ROLLBACK_FAILED',
  'UPDATE_FAILED',
  'DELETE_COMPLETE',
  'DELETE_FAILED',
]);

export interface DeployRequest {
  readonly client: CloudFormationClient;
  readonly stackName: string;
  readonly templateBody: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
  /** Called with one line per stack event and state change. */
  readonly progress: (line: string) => void;
  readonly pollIntervalMs?: number;
  readonly timeoutMs?: number;
}

export interface DeployResult {
  readonly action: 'created' | 'updated' | 'unchanged';
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
}

const awsMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
const isValidation = (error: unknown, text: string) =>
  (error as { name?: string }).name === 'ValidationError' && awsMessage(error).includes(text);

async function describe(client: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return out.Stacks?.[0];
  } catch (error) {
    if (isValidation(error, 'does not exist')) return undefined;
    throw new SidekeyError('SETUP_FAILED', `cannot describe stack ${stackName}: ${awsMessage(error)}`, { cause: error });
  }
}

function outputsOf(stack: Stack | undefined): Record<string, string> {
  return Object.fromEntries(
    (stack?.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey, o.OutputValue]),
  );
}

function describeEvent(e: StackEvent): string {
  return `${e.ResourceType ?? '?'} ${e.LogicalResourceId ?? '?'} ${e.ResourceStatus ?? '?'}${e.ResourceStatusReason ? `: ${e.ResourceStatusReason}` : ''}`;
}

/** Event ids already on the stack, so an update reports only its own events (no clock comparison). */
async function eventIds(client: CloudFormationClient, stackId: string): Promise<Set<string>> {
  const out = await client.send(new DescribeStackEventsCommand({ StackName: stackId }));
  return new Set((out.StackEvents ?? []).map((e) => e.EventId).filter((id): id is string => id !== undefined));
}

async function follow(request: DeployRequest, stackId: string, seen: Set<string>): Promise<Stack> {
  const { client, progress } = request;
  const deadline = Date.now() + (request.timeoutMs ?? DEPLOY_TIMEOUT_MS);
  for (;;) {
    const events = await client.send(new DescribeStackEventsCommand({ StackName: stackId }));
    const fresh = (events.StackEvents ?? []).filter((e) => e.EventId !== undefined && !seen.has(e.EventId));
    for (const event of fresh.reverse()) {
      seen.add(event.EventId as string);
      progress(describeEvent(event));
    }
    const stack = await describe(client, stackId);
    const status = stack?.StackStatus ?? 'DELETE_COMPLETE';
    if (SUCCESS.has(status)) return stack as Stack;
    if (FAILURE.has(status)) {
      throw new SidekeyError(
        'SETUP_FAILED',
        `stack ${request.stackName} ended in ${status}${stack?.StackStatusReason ? `: ${stack.StackStatusReason}` : ''}; the events above say which resource failed`,
      );
    }
    if (Date.now() > deadline) {
      throw new SidekeyError(
        'SETUP_FAILED',
        `stack ${request.stackName} is still ${status} after ${Math.round((request.timeoutMs ?? DEPLOY_TIMEOUT_MS) / 1000)} s; follow it in the CloudFormation console`,
      );
    }
    await sleep(request.pollIntervalMs ?? DEPLOY_POLL_INTERVAL_MS);
  }
}

export async function deployStack(request: DeployRequest): Promise<DeployResult> {
  const { client, stackName, progress } = request;
  const parameters = Object.entries(request.parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));
  const tags = request.tags.map((t) => ({ Key: t.Key, Value: t.Value }));
  const existing = await describe(client, stackName);
  if (!existing) {
    progress(`creating stack ${stackName}`);
    let stackId: string;
    try {
      const out = await client.send(
        new CreateStackCommand({
          StackName: stackName,
          TemplateBody: request.templateBody,
          Parameters: parameters,
          Tags: tags,
          OnFailure: 'ROLLBACK',
          EnableTerminationProtection: true,
        }),
      );
      stackId = out.StackId ?? stackName;
    } catch (error) {
      throw new SidekeyError('SETUP_FAILED', `cannot create stack ${stackName}: ${awsMessage(error)}`, { cause: error });
    }
    const stack = await follow(request, stackId, new Set());
    return { action: 'created', status: stack.StackStatus as string, outputs: outputsOf(stack) };
  }
  const status = existing.StackStatus ?? '';
  if (status === 'ROLLBACK_COMPLETE') {
    throw new SidekeyError(
      'SETUP_FAILED',
      `stack ${stackName} failed on creation (ROLLBACK_COMPLETE) and cannot be updated: delete it (aws cloudformation delete-stack --stack-name ${stackName}) and deploy again`,
    );
  }
  if (status.endsWith('_IN_PROGRESS'))
    throw new SidekeyError('SETUP_FAILED', `stack ${stackName} is busy (${status}); wait for it to settle and deploy again`);
  progress(`updating stack ${stackName} (${status})`);
  const stackId = existing.StackId ?? stackName;
  const before = await eventIds(client, stackId);
  try {
    await client.send(
      new UpdateStackCommand({ StackName: stackName, TemplateBody: request.templateBody, Parameters: parameters, Tags: tags }),
    );
  } catch (error) {
    if (isValidation(error, 'No updates are to be performed')) {
      progress(`stack ${stackName} is already up to date`);
      return { action: 'unchanged', status, outputs: outputsOf(existing) };
    }
    throw new SidekeyError('SETUP_FAILED', `cannot update stack ${stackName}: ${awsMessage(error)}`, { cause: error });
  }
  const stack = await follow(request, stackId, before);
  return { action: 'updated', status: stack.StackStatus as string, outputs: outputsOf(stack) };
}
