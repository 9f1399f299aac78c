// The names the operations runbook and deploy/k8s use. Every resource the
// runbook's commands address by name takes its name from here, so that a
// command works as printed.
export const names = {
  // runbook 1-2, deploy/k8s: the namespace and the service account every pod runs as.
  namespace: 'fintech-banking',
  serviceAccount: 'bank',
  // deploy/k8s/overlays/aws: eks.amazonaws.com/role-arn of the service account.
  podRole: 'fintech-banking-bank',
  // runbook 2.3
  cluster: 'fintech-banking-cluster',
  nodegroup: 'fintech-workers',
  // runbook 2.4, 3.2, 4, 7.1, 7.2
  dbInstance: 'fintech-banking-db',
  dbName: 'fintech_banking_db',
  dbInstanceClass: 'r6g.large',
  // runbook 5; the queue URL of deploy/k8s/overlays/aws ends in the queue's name.
  queue: 'fintech-banking-events',
  deadLetterQueue: 'fintech-banking-events-dlq',
  // runbook 3.3
  restApi: 'fintech-banking-api',
  stage: 'prod',
  maintenanceApi: 'fintech-banking-maintenance',
  // runbook 6.1
  certExpiryAlarm: 'cert-expiry-warning',
  // runbook 7.3
  searchDomain: 'fintech-banking-search',
  snapshotRepository: 's3_backup',
  snapshotBucket: 'fintech-es-backups',
  snapshotRole: 'fintech-es-snapshot',
  // runbook 6.2: the Kubernetes Secret jwt-secret (key "key") is created from this one.
  jwtSecret: 'fintech-banking/jwt-secret',
  dbAdminSecret: 'fintech-banking/db-admin',
  alertsTopic: 'fintech-banking-alerts',
  // CloudFront origin ids, also used by cutover/maintenance-mode-config.json.
  apiOriginId: 'api',
  maintenanceOriginId: 'maintenance',
} as const;

// The region of the runbook's commands (7.3 names it; the queue URL and the
// ACM ARN of the aws overlay are in it). CloudFront takes its certificate from
// us-east-1 only, so the one certificate here serves CloudFront, API Gateway
// and the ALB because the stack is deployed there.
export const region = 'us-east-1';

// Hosted zone ids AWS uses for alias targets (fixed by AWS, documented in the
// Route 53 and API Gateway endpoint references).
export const aliasZones = {
  cloudFront: 'Z2FDTNDATAQYW2',
  apiGatewayRegional: 'Z1UJRXOUMOOFQ8', // execute-api, us-east-1
} as const;
