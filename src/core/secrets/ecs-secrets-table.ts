/** ecs-secrets' table per application, as its CloudFormation stack names it. */
export function ecsSecretsTable(app: string): string {
  return `ECS-Secrets-${app}-Secrets`;
}
