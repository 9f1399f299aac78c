// Checks the synthesized template against the names and settings of the
// operations runbook (/work/shared/runbook.md, quoted where used), of
// deploy/k8s/overlays/aws and of internal/queue, and the cut-over files of
// runbook 3.4 against the distribution they replace.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { aliasZones, names, region } from '../lib/names';
import { BankingStack } from '../lib/stack';

const here = path.resolve(__dirname, '..', '..'); // deploy/aws (tests run from build/test)
const repo = path.resolve(here, '..', '..');
const read = (...p: string[]) => fs.readFileSync(path.join(...p), 'utf8');
const readJSON = (...p: string[]) => JSON.parse(read(...p));

const zoneName = 'bank.example.com';
const apiHost = `api.${zoneName}`;

function synth(): { app: App; stack: BankingStack; template: Template } {
  const app = new App({ outdir: fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'cdk-test-')) });
  const stack = new BankingStack(app, 'FintechBanking', {
    env: { region },
    zoneName,
    hostedZoneId: 'Z0000000000000EXAMPLE',
    kubernetesVersion: '1.33',
  });
  return { app, stack, template: Template.fromStack(stack) };
}
const { app, stack, template } = synth();

// one returns the only resource of a type whose properties match props.
function one(type: string, props: object = {}): { id: string; Properties: any; DeletionPolicy?: string } {
  const found = template.findResources(type, { Properties: props });
  const ids = Object.keys(found);
  assert.equal(ids.length, 1, `${type} matching ${JSON.stringify(props)}: ${ids.length} found`);
  return { id: ids[0], ...(found[ids[0]] as { Properties: any; DeletionPolicy?: string }) };
}

test('synth needs no account, no credentials and no lookups', () => {
  const assembly = app.synth();
  assert.equal(assembly.manifest.missing, undefined, 'context lookups would need AWS');
  const artifact = assembly.getStackByName(stack.stackName);
  assert.equal(artifact.environment.region, 'us-east-1');
  assert.equal(artifact.environment.account, 'unknown-account');
  const cdkJson = readJSON(here, 'cdk.json');
  assert.equal(cdkJson.context.domainName, zoneName);
});

test('EKS cluster and node group (runbook 2.3)', () => {
  // aws eks update-nodegroup-config --cluster-name fintech-banking-cluster
  //   --nodegroup-name fintech-workers --scaling-config minSize=3,maxSize=10,desiredSize=5
  const cluster = one('AWS::EKS::Cluster', { Name: 'fintech-banking-cluster' });
  assert.equal(cluster.Properties.AccessConfig.AuthenticationMode, 'API');
  const ng = one('AWS::EKS::Nodegroup', { NodegroupName: 'fintech-workers' });
  assert.deepEqual(ng.Properties.ClusterName, { Ref: cluster.id });
  const s = ng.Properties.ScalingConfig;
  assert.ok(s.MinSize <= 3 && s.MaxSize >= 10 && s.DesiredSize >= s.MinSize,
    `scaling ${JSON.stringify(s)} must allow the runbook's minSize=3,maxSize=10,desiredSize=5`);
  template.hasResourceProperties('AWS::IAM::OIDCProvider', {
    Url: { 'Fn::GetAtt': [cluster.id, 'OpenIdConnectIssuerUrl'] },
    ClientIdList: ['sts.amazonaws.com'],
  });
});

test('RDS PostgreSQL fintech-banking-db (runbook 2.4, 3.2, 4, 7.1, 7.2)', () => {
  const db = one('AWS::RDS::DBInstance', { DBInstanceIdentifier: 'fintech-banking-db' });
  const p = db.Properties;
  assert.equal(p.Engine, 'postgres');
  assert.equal(p.DBName, 'fintech_banking_db');
  assert.equal(p.MultiAZ, true, '3.2 fails over to the standby: --force-failover');
  assert.equal(p.DBInstanceClass, 'db.r6g.large', '2.4 scales to db.r6g.xlarge, 7.1 restores as db.r6g.large');
  assert.ok(p.BackupRetentionPeriod >= 7, `automated backups kept ${p.BackupRetentionPeriod} days (7.2's PITR window)`);
  assert.equal(p.DeleteAutomatedBackups, false);
  assert.equal(p.DeletionProtection, true);
  assert.equal(p.StorageEncrypted, true);
  assert.equal(db.DeletionPolicy, 'Snapshot');
  const pg = one('AWS::RDS::DBParameterGroup');
  assert.deepEqual(p.DBParameterGroupName, { Ref: pg.id });
  // 4.3: pg_stat_statements is queried; log_min_duration_statement is toggled.
  assert.match(pg.Properties.Parameters.shared_preload_libraries, /(^|,)pg_stat_statements(,|$)/);
  assert.ok('log_min_duration_statement' in pg.Properties.Parameters);
  assert.equal(pg.Properties.Parameters['rds.force_ssl'], '1', 'the aws overlay connects with sslmode=verify-full');
  // The overlay's Secret bank-database names this database.
  assert.match(read(repo, 'deploy/k8s/overlays/aws/kustomization.yaml'), /fintech-banking-db\.[^/]*\/fintech_banking_db/);
});

// overlay is what deploy/k8s/overlays/aws says the cloud holds.
function overlay() {
  const k = read(repo, 'deploy/k8s/overlays/aws/kustomization.yaml');
  const queueUrl = k.match(/value: (https:\/\/sqs\.[^\s]+)/)?.[1];
  const roleArn = k.match(/eks\.amazonaws\.com\/role-arn: (arn:aws:iam::\d+:role\/[^\s]+)/)?.[1];
  const namespace = k.match(/^namespace: (\S+)/m)?.[1];
  const certArn = k.match(/certificate-arn: (arn:aws:acm:[^\s]+)/)?.[1];
  assert.ok(queueUrl && roleArn && namespace && certArn, 'overlays/aws: queue URL, role ARN, namespace or certificate ARN not found');
  const sa = read(repo, 'deploy/k8s/base/serviceaccount.yaml').match(/^\s+name: (\S+)/m)?.[1];
  return { queueUrl, roleArn, namespace, certArn, serviceAccount: sa };
}

test('SQS queue and its DLQ with a RedrivePolicy (runbook 5), as overlays/aws names them', () => {
  const o = overlay();
  const [, urlRegion, queueName] = o.queueUrl.match(/^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com\/\d+\/(.+)$/)!;
  assert.equal(urlRegion, region);
  assert.equal(queueName, names.queue);
  const dlq = one('AWS::SQS::Queue', { QueueName: 'fintech-banking-events-dlq' });
  const q = one('AWS::SQS::Queue', { QueueName: queueName });
  // The services read deadLetterTargetArn and maxReceiveCount from it (internal/queue/sqs.go).
  assert.deepEqual(q.Properties.RedrivePolicy, {
    deadLetterTargetArn: { 'Fn::GetAtt': [dlq.id, 'Arn'] },
    maxReceiveCount: 5,
  });
  assert.ok(dlq.Properties.MessageRetentionPeriod >= q.Properties.MessageRetentionPeriod,
    'a message must outlive its move to the DLQ');
});

test('the pods\' role (IRSA): the overlay\'s role, the service account bank, every SQS call of internal/queue', () => {
  const o = overlay();
  assert.equal(o.namespace, names.namespace);
  assert.equal(o.serviceAccount, names.serviceAccount);
  const roleName = o.roleArn.split('/').pop()!;
  const role = one('AWS::IAM::Role', { RoleName: roleName });
  const trust = role.Properties.AssumeRolePolicyDocument.Statement;
  assert.equal(trust.length, 1);
  assert.equal(trust[0].Action, 'sts:AssumeRoleWithWebIdentity');
  const cond = one('Custom::AWSCDKCfnJson');
  assert.deepEqual(trust[0].Condition.StringEquals, { 'Fn::GetAtt': [cond.id, 'Value'] });
  const condText = JSON.stringify(cond.Properties.Value);
  assert.ok(condText.includes(`:sub\\":\\"system:serviceaccount:${o.namespace}:${o.serviceAccount}\\"`), condText);
  assert.ok(condText.includes(':aud\\":\\"sts.amazonaws.com\\"'), condText);

  // Every SQS API the Go code calls must be allowed.
  const calls = [...new Set([...read(repo, 'internal/queue/sqs.go').matchAll(/client\.([A-Z][A-Za-z]+)\(/g)].map((m) => m[1]))];
  assert.ok(calls.length >= 8, `found only ${calls} in internal/queue/sqs.go`);
  const allowed = new Set<string>();
  for (const [, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    if (!JSON.stringify((res as any).Properties.Roles).includes(role.id)) continue;
    for (const st of (res as any).Properties.PolicyDocument.Statement) {
      for (const a of [st.Action].flat()) allowed.add(a);
    }
  }
  // DeleteMessageBatch, SendMessageBatch, ... are authorized as their single forms.
  const missing = calls.map((c) => `sqs:${c.replace(/Batch$/, '')}`).filter((a) => !allowed.has(a));
  assert.deepEqual(missing, [], `not allowed to ${roleName}`);
});

test('API Gateway stage prod with throttling and a cache cluster (runbook 3.3)', () => {
  // aws apigateway flush-stage-cache --rest-api-id <api-id> --stage-name prod
  // aws apigateway update-stage ... --patch-operations op=replace,path=/throttling/rateLimit,value=10000
  const api = one('AWS::ApiGateway::RestApi', { Name: 'fintech-banking-api' });
  const stage = one('AWS::ApiGateway::Stage', { RestApiId: { Ref: api.id } });
  assert.equal(stage.Properties.StageName, 'prod');
  assert.equal(stage.Properties.CacheClusterEnabled, true, 'flush-stage-cache needs a cache cluster');
  const all = stage.Properties.MethodSettings.find((m: any) => m.ResourcePath === '/*' && m.HttpMethod === '*');
  assert.ok(all.ThrottlingRateLimit > 0 && all.ThrottlingBurstLimit > 0, JSON.stringify(all));
  assert.equal(all.CachingEnabled, false, 'answers are per caller: none may be served from a cache');
  template.hasResourceProperties('AWS::ApiGateway::Method', {
    RestApiId: { Ref: api.id },
    HttpMethod: 'ANY',
    Integration: { Type: 'HTTP_PROXY', Uri: `https://origin.${zoneName}/{proxy}` },
  });
});

test('CloudFront, Route 53 and the maintenance cut-over files (runbook 3.4)', () => {
  const cert = one('AWS::CertificateManager::Certificate');
  const dist = one('AWS::CloudFront::Distribution');
  const c = dist.Properties.DistributionConfig;
  assert.deepEqual(c.Aliases, [apiHost]);
  assert.equal(c.DefaultCacheBehavior.TargetOriginId, names.apiOriginId);
  const record = one('AWS::Route53::RecordSet', { Name: `${apiHost}.`, Type: 'A' }).Properties.AliasTarget;
  assert.deepEqual(record.DNSName, { 'Fn::GetAtt': [dist.id, 'DomainName'] });
  // CDK maps the alias zone by partition: resolve the map as CloudFormation would.
  const [map, , key] = record.HostedZoneId['Fn::FindInMap'];
  const zones = Object.values(template.toJSON().Mappings[map]).map((v: any) => v[key]);
  assert.ok(zones.includes(aliasZones.cloudFront), `${JSON.stringify(zones)}`);

  // aws cloudfront update-distribution --id <distribution-id> --distribution-config file://maintenance-mode-config.json
  // The file is the distribution as deployed, its default behaviour moved to the page.
  const m = readJSON(here, 'cutover', 'maintenance-mode-config.json');
  assert.deepEqual(m.Aliases.Items, c.Aliases);
  assert.deepEqual(m.Origins.Items.map((o: any) => o.Id), c.Origins.map((o: any) => o.Id));
  const [apiOrigin, pageOrigin] = m.Origins.Items;
  assert.equal(apiOrigin.OriginPath, `/${names.stage}`);
  assert.deepEqual(apiOrigin.CustomOriginConfig.OriginSslProtocols.Items, c.Origins[0].CustomOriginConfig.OriginSSLProtocols);
  assert.ok(pageOrigin.S3OriginConfig && pageOrigin.OriginAccessControlId);
  assert.equal(m.DefaultCacheBehavior.TargetOriginId, names.maintenanceOriginId);
  assert.deepEqual(m.DefaultCacheBehavior.AllowedMethods.Items, c.DefaultCacheBehavior.AllowedMethods,
    'every method a client sends gets the page, none a 403 from CloudFront');
  assert.deepEqual(m.CacheBehaviors.Items.map((b: any) => [b.PathPattern, b.TargetOriginId, b.CachePolicyId]),
    c.CacheBehaviors.map((b: any) => [b.PathPattern, b.TargetOriginId, b.CachePolicyId]));
  for (const e of m.CustomErrorResponses.Items) {
    assert.equal(e.ResponsePagePath, '/maintenance.html');
    assert.equal(e.ResponseCode, '503');
  }
  assert.ok(fs.existsSync(path.join(here, 'cutover', 'site', 'maintenance.html')));
  for (const [k, v] of [['Comment', c.Comment], ['PriceClass', c.PriceClass], ['HttpVersion', c.HttpVersion],
    ['IsIPV6Enabled', c.IPV6Enabled], ['Enabled', c.Enabled]]) {
    assert.deepEqual(m[k], v, k);
  }
  assert.equal(m.ViewerCertificate.MinimumProtocolVersion, c.ViewerCertificate.MinimumProtocolVersion);
  assert.equal(m.ViewerCertificate.SSLSupportMethod, c.ViewerCertificate.SslSupportMethod);
  assert.deepEqual(c.ViewerCertificate.AcmCertificateArn, { Ref: cert.id });
  for (const q of ['Aliases', 'Origins', 'CacheBehaviors', 'CustomErrorResponses']) {
    assert.equal(m[q].Quantity, m[q].Items.length, `${q}.Quantity`);
  }

  // aws route53 change-resource-record-sets --hosted-zone-id <zone-id> --change-batch file://maintenance-dns-change.json
  const maint = one('AWS::ApiGateway::RestApi', { Name: names.maintenanceApi });
  const domain = one('AWS::ApiGateway::DomainName', { DomainName: apiHost });
  assert.deepEqual(domain.Properties.EndpointConfiguration.Types, ['REGIONAL']);
  template.hasResourceProperties('AWS::ApiGateway::BasePathMapping', { DomainName: { Ref: domain.id }, RestApiId: { Ref: maint.id } });
  template.hasResourceProperties('AWS::ApiGateway::Method', {
    RestApiId: { Ref: maint.id },
    Integration: { Type: 'MOCK', IntegrationResponses: [Match.objectLike({ StatusCode: '503' })] },
  });
  const toMaintenance = readJSON(here, 'cutover', 'maintenance-dns-change.json').Changes;
  const back = readJSON(here, 'cutover', 'normal-dns-change.json').Changes;
  for (const [changes, zone] of [[toMaintenance, aliasZones.apiGatewayRegional], [back, aliasZones.cloudFront]]) {
    assert.equal(changes.length, 1);
    assert.equal(changes[0].Action, 'UPSERT');
    assert.equal(changes[0].ResourceRecordSet.Name, `${apiHost}.`);
    assert.equal(changes[0].ResourceRecordSet.Type, 'A');
    assert.equal(changes[0].ResourceRecordSet.AliasTarget.HostedZoneId, zone);
  }
});

test('every placeholder of the cut-over files is a stack output', () => {
  const outputs = new Set(Object.keys(template.toJSON().Outputs));
  const fromCloudFront = new Set(['CallerReference']); // aws cloudfront get-distribution-config
  for (const f of fs.readdirSync(path.join(here, 'cutover')).filter((f) => f.endsWith('.json'))) {
    for (const [, name] of read(here, 'cutover', f).matchAll(/<([A-Za-z]+)>/g)) {
      assert.ok(outputs.has(name) || fromCloudFront.has(name), `${f}: <${name}> is no output of the stack`);
    }
  }
});

test('ACM certificate and the expiry alarm (runbook 6.1)', () => {
  // aws cloudwatch put-metric-alarm --alarm-name "cert-expiry-warning" --comparison-operator LessThanThreshold
  //   --evaluation-periods 1 --metric-name DaysToExpiry --namespace AWS/CertificateManager --period 86400
  //   --threshold 30 --statistic Minimum --dimensions Name=CertificateArn,Value=<cert-arn>
  const cert = one('AWS::CertificateManager::Certificate', { DomainName: apiHost });
  assert.deepEqual(cert.Properties.SubjectAlternativeNames, [`origin.${zoneName}`]);
  assert.equal(cert.Properties.ValidationMethod, 'DNS');
  const alarm = one('AWS::CloudWatch::Alarm', { AlarmName: 'cert-expiry-warning' });
  const a = alarm.Properties;
  assert.equal(a.ComparisonOperator, 'LessThanThreshold');
  assert.equal(a.EvaluationPeriods, 1);
  assert.equal(a.MetricName, 'DaysToExpiry');
  assert.equal(a.Namespace, 'AWS/CertificateManager');
  assert.equal(a.Period, 86400);
  assert.equal(a.Threshold, 30);
  assert.equal(a.Statistic, 'Minimum');
  assert.deepEqual(a.Dimensions, [{ Name: 'CertificateArn', Value: { Ref: cert.id } }]);
  assert.equal(a.AlarmActions.length, 1);
  // The ALB of overlays/aws uses an ACM certificate of the same region.
  assert.match(overlay().certArn, new RegExp(`^arn:aws:acm:${region}:`));
});

test('OpenSearch domain and the snapshot repository s3_backup on fintech-es-backups (runbook 7.3)', () => {
  // curl -X PUT "https://<es-endpoint>/_snapshot/s3_backup" -d '{"type": "s3",
  //   "settings": {"bucket": "fintech-es-backups", "region": "us-east-1"}}'
  const domain = one('AWS::OpenSearchService::Domain', { DomainName: names.searchDomain });
  assert.equal(domain.Properties.DomainEndpointOptions.EnforceHTTPS, true);
  const bucket = one('AWS::S3::Bucket', { BucketName: 'fintech-es-backups' });
  const role = one('AWS::IAM::Role', { RoleName: names.snapshotRole });
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal.Service), ['es.amazonaws.com']);
  const policies = template.findResources('AWS::IAM::Policy');
  const rolePolicy = JSON.stringify(Object.values(policies).filter((p: any) => JSON.stringify(p.Properties.Roles).includes(role.id)));
  for (const a of ['s3:ListBucket', 's3:GetObject', 's3:PutObject', 's3:DeleteObject']) {
    assert.ok(rolePolicy.includes(a), `${names.snapshotRole} may not ${a}`);
  }
  assert.ok(rolePolicy.includes(bucket.id));

  const repo = one('Custom::OpenSearchSnapshotRepository');
  assert.deepEqual(repo.Properties.Repository, 's3_backup');
  assert.deepEqual(repo.Properties.Bucket, { Ref: bucket.id });
  assert.equal(repo.Properties.Region, 'us-east-1');
  assert.deepEqual(repo.Properties.RoleArn, { 'Fn::GetAtt': [role.id, 'Arn'] });
  assert.deepEqual(repo.Properties.Endpoint, { 'Fn::GetAtt': [domain.id, 'DomainEndpoint'] });
  // The function that registers it may pass the role and PUT _snapshot/*.
  const fnRoleId = one('AWS::Lambda::Function', { Runtime: 'python3.12' }).Properties.Role['Fn::GetAtt'][0];
  const fnPolicy = JSON.stringify(Object.values(policies).filter((p: any) => JSON.stringify(p.Properties.Roles).includes(fnRoleId)));
  assert.ok(fnPolicy.includes('iam:PassRole') && fnPolicy.includes('es:ESHttpPut') && fnPolicy.includes('/_snapshot/*'), fnPolicy);
});

test('the registration function is valid Python', { skip: !hasPython() && 'python3 not found' }, () => {
  const src = path.join(here, 'lambda', 'register_snapshot_repository.py');
  assert.ok(fs.statSync(src).size < 4096, 'inline Lambda code is limited to 4 KiB');
  execFileSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', src]);
});

test('jwt-secret in Secrets Manager (runbook 6.2, key "key")', () => {
  const s = one('AWS::SecretsManager::Secret', { Name: names.jwtSecret });
  assert.equal(s.Properties.GenerateSecretString.GenerateStringKey, 'key');
  assert.ok(s.Properties.GenerateSecretString.PasswordLength >= 32);
});

function hasPython(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
