/**
 * A CloudFormation test peer (Query protocol, SigV4 verified): CreateStack, UpdateStack,
 * DescribeStacks and DescribeStackEvents over an in-memory stack that moves one step per
 * DescribeStacks, so a deploy sees IN_PROGRESS, per-resource events, then a final state. The
 * template is parsed; a resource named in `failResource` fails, and the stack rolls back.
 */
import { randomUUID } from 'node:crypto';
import { parse } from 'yaml';
import { QueryError, QueryProtocolPeer, xmlEscape } from './query-protocol-peer.js';
import type { KnownKey } from './sigv4-verifier.js';

interface StackEventRecord {
  readonly id: string;
  readonly logicalId: string;
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly at: Date;
}

export interface PeerStack {
  readonly id: string;
  readonly name: string;
  status: string;
  template: Record<string, unknown>;
  templateBody: string;
  parameters: Record<string, string>;
  tags: Record<string, string>;
  events: StackEventRecord[];
  /** Steps still to play: each DescribeStacks plays one. */
  pending: (() => void)[];
}

const iso = (d: Date) => d.toISOString();

function members(params: URLSearchParams, prefix: string, fields: [string, string]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; params.has(`${prefix}.member.${i}.${fields[0]}`); i++) {
    out[params.get(`${prefix}.member.${i}.${fields[0]}`) as string] = params.get(`${prefix}.member.${i}.${fields[1]}`) ?? '';
  }
  return out;
}

export class CloudFormationPeer {
  readonly stacks = new Map<string, PeerStack>();
  readonly peer: QueryProtocolPeer;
  /** Logical id of a resource that fails to create or update. */
  failResource: string | undefined;
  /** Values of outputs, by output key, as the resources would give them (default `peer-value-of-KEY`). */
  outputValues: Record<string, string> = {};

  constructor(keys: readonly KnownKey[]) {
    this.peer = new QueryProtocolPeer({
      service: 'cloudformation',
      xmlns: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
      version: '2010-05-15',
      keys,
      actions: {
        CreateStack: (p) => this.#create(p),
        UpdateStack: (p) => this.#update(p),
        DescribeStacks: (p) => this.#describe(p),
        DescribeStackEvents: (p) => this.#events(p),
      },
    });
  }

  #find(nameOrId: string | null): PeerStack {
    const stack = [...this.stacks.values()].find((s) => s.name === nameOrId || s.id === nameOrId);
    if (!stack) throw new QueryError(400, 'ValidationError', `Stack with id ${nameOrId ?? ''} does not exist`);
    return stack;
  }

  #template(body: string | null): Record<string, unknown> {
    let template: Record<string, unknown>;
    try {
      template = parse(body ?? '') as Record<string, unknown>;
    } catch (error) {
      throw new QueryError(400, 'ValidationError', `Template format error: ${String(error)}`);
    }
    if (!template || typeof template !== 'object' || !template.Resources)
      throw new QueryError(400, 'ValidationError', 'Template format error: At least one Resources member must be defined.');
    return template;
  }

  #event(stack: PeerStack, logicalId: string, type: string, status: string, reason?: string): void {
    stack.events.unshift({ id: randomUUID(), logicalId, type, status, at: new Date(), ...(reason ? { reason } : {}) });
  }

  #plan(stack: PeerStack, verb: 'CREATE' | 'UPDATE'): void {
    const resources = Object.entries(stack.template.Resources as Record<string, { Type: string }>);
    const steps: (() => void)[] = [];
    for (const [logicalId, resource] of resources) {
      steps.push(() => {
        this.#event(stack, logicalId, resource.Type, `${verb}_IN_PROGRESS`);
        if (logicalId === this.failResource) {
          this.#event(stack, logicalId, resource.Type, `${verb}_FAILED`, 'Resource handler returned message: "Access denied"');
          stack.pending = [
            () => {
              stack.status = verb === 'CREATE' ? 'ROLLBACK_COMPLETE' : 'UPDATE_ROLLBACK_COMPLETE';
              this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.status);
            },
          ];
          stack.status = verb === 'CREATE' ? 'ROLLBACK_IN_PROGRESS' : 'UPDATE_ROLLBACK_IN_PROGRESS';
          return;
        }
        this.#event(stack, logicalId, resource.Type, `${verb}_COMPLETE`);
      });
    }
    steps.push(() => {
      stack.status = `${verb}_COMPLETE`;
      this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.status);
    });
    stack.status = `${verb}_IN_PROGRESS`;
    this.#event(stack, stack.name, 'AWS::CloudFormation::Stack', stack.status, 'User Initiated');
    stack.pending = steps;
  }

  #create(p: URLSearchParams): string {
    const name = p.get('StackName') ?? '';
    if ([...this.stacks.values()].some((s) => s.name === name))
      throw new QueryError(400, 'AlreadyExistsException', `Stack [${name}] already exists`);
    const body = p.get('TemplateBody') ?? '';
    const stack: PeerStack = {
      id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/${randomUUID()}`,
      name,
      status: 'CREATE_IN_PROGRESS',
      template: this.#template(body),
      templateBody: body,
      parameters: members(p, 'Parameters', ['ParameterKey', 'ParameterValue']),
      tags: members(p, 'Tags', ['Key', 'Value']),
      events: [],
      pending: [],
    };
    this.stacks.set(stack.id, stack);
    this.#plan(stack, 'CREATE');
    return `<StackId>${xmlEscape(stack.id)}</StackId>`;
  }

  #update(p: URLSearchParams): string {
    const stack = this.#find(p.get('StackName'));
    const body = p.get('TemplateBody') ?? '';
    const parameters = members(p, 'Parameters', ['ParameterKey', 'ParameterValue']);
    if (body === stack.templateBody && JSON.stringify(parameters) === JSON.stringify(stack.parameters)) {
      throw new QueryError(400, 'ValidationError', 'No updates are to be performed.');
    }
    Object.assign(stack, { template: this.#template(body), templateBody: body, parameters, tags: members(p, 'Tags', ['Key', 'Value']) });
    this.#plan(stack, 'UPDATE');
    return `<StackId>${xmlEscape(stack.id)}</StackId>`;
  }

  #describe(p: URLSearchParams): string {
    const stack = this.#find(p.get('StackName'));
    stack.pending.shift()?.();
    const outputs =
      stack.status.endsWith('_COMPLETE') && !stack.status.includes('ROLLBACK')
        ? Object.keys((stack.template.Outputs as Record<string, unknown>) ?? {})
            .map(
              (key) =>
                `<member><OutputKey>${key}</OutputKey><OutputValue>${xmlEscape(this.outputValues[key] ?? `peer-value-of-${key}`)}</OutputValue></member>`,
            )
            .join('')
        : '';
    return `<Stacks><member><StackId>${xmlEscape(stack.id)}</StackId><StackName>${xmlEscape(stack.name)}</StackName><StackStatus>${stack.status}</StackStatus><CreationTime>${iso(new Date())}</CreationTime><Outputs>${outputs}</Outputs></member></Stacks>`;
  }

  #events(p: URLSearchParams): string {
    const stack = this.#find(p.get('StackName'));
    const items = stack.events
      .map(
        (e) =>
          `<member><EventId>${e.id}</EventId><StackId>${xmlEscape(stack.id)}</StackId><StackName>${xmlEscape(stack.name)}</StackName><LogicalResourceId>${xmlEscape(e.logicalId)}</LogicalResourceId><ResourceType>${xmlEscape(e.type)}</ResourceType><ResourceStatus>${e.status}</ResourceStatus>${e.reason ? `<ResourceStatusReason>${xmlEscape(e.reason)}</ResourceStatusReason>` : ''}<Timestamp>${iso(e.at)}</Timestamp></member>`,
      )
      .join('');
    return `<StackEvents>${items}</StackEvents>`;
  }
}
