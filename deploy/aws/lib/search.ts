import * as fs from 'node:fs';
import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { names } from './names';

export interface SearchProps {
  readonly vpc: ec2.IVpc;
  readonly clientSecurityGroupId: string;
}

// Search is the OpenSearch domain of runbook 7.3 (AWS's managed
// "Elasticsearch"), the bucket its snapshots go to, the role OpenSearch
// assumes to write there, and the registration of the repository s3_backup.
export class Search extends Construct {
  readonly domain: opensearch.Domain;
  readonly bucket: s3.Bucket;
  readonly snapshotRole: iam.Role;
  readonly repository: CustomResource;

  constructor(scope: Construct, id: string, props: SearchProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'SnapshotBucket', {
      bucketName: names.snapshotBucket,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // OpenSearch writes snapshots as this role; registering the repository
    // passes it (iam:PassRole), which the runbook's unsigned curl cannot do.
    this.snapshotRole = new iam.Role(this, 'SnapshotRole', {
      roleName: names.snapshotRole,
      assumedBy: new iam.ServicePrincipal('es.amazonaws.com'),
      description: `OpenSearch writes the snapshots of ${names.snapshotRepository} to ${names.snapshotBucket}`,
    });
    this.snapshotRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
    }));
    this.snapshotRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: [this.bucket.arnForObjects('*')],
    }));

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${names.searchDomain}: HTTPS from the EKS cluster and the repository registration`,
    });
    securityGroup.addIngressRule(ec2.Peer.securityGroupId(props.clientSecurityGroupId), ec2.Port.tcp(443),
      'HTTPS from the pods');
    this.domain = new opensearch.Domain(this, 'Domain', {
      domainName: names.searchDomain,
      version: opensearch.EngineVersion.OPENSEARCH_2_19,
      vpc: props.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      securityGroups: [securityGroup],
      capacity: { dataNodes: 2, dataNodeInstanceType: 'r6g.large.search', multiAzWithStandbyEnabled: false },
      zoneAwareness: { enabled: true, availabilityZoneCount: 2 },
      ebs: { volumeSize: 100, volumeType: ec2.EbsDeviceVolumeType.GP3 },
      encryptionAtRest: { enabled: true },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Access is decided by IAM policies in this account (requests are signed).
    // Set on the resource itself: the construct's accessPolicies would add a
    // custom resource, which only a policy naming the domain's own ARN needs.
    const cfnDomain = this.domain.node.defaultChild as opensearch.CfnDomain;
    cfnDomain.accessPolicies = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({
        principals: [new iam.AccountRootPrincipal()],
        actions: ['es:ESHttp*'],
        resources: [`arn:aws:es:${Stack.of(this).region}:${Stack.of(this).account}:domain/${names.searchDomain}/*`],
      })],
    }).toJSON();

    this.repository = this.registerRepository(props.vpc, securityGroup);
  }

  // registerRepository runs lambda/register_snapshot_repository.py as a
  // custom resource, from inside the VPC where the domain answers.
  private registerRepository(vpc: ec2.IVpc, domainSecurityGroup: ec2.SecurityGroup): CustomResource {
    const fnSecurityGroup = new ec2.SecurityGroup(this, 'RegisterSecurityGroup', {
      vpc,
      description: `registers the snapshot repository ${names.snapshotRepository}`,
    });
    domainSecurityGroup.addIngressRule(fnSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the repository registration');
    const code = fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'register_snapshot_repository.py'), 'utf8');
    const fn = new lambda.Function(this, 'RegisterRepository', {
      runtime: lambda.Runtime.PYTHON_3_12,
      handler: 'index.handler',
      code: lambda.Code.fromInline(code),
      timeout: Duration.minutes(2),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [fnSecurityGroup],
      description: `PUT _snapshot/${names.snapshotRepository} on ${names.searchDomain}`,
    });
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['es:ESHttpPut'],
      resources: [`${this.domain.domainArn}/_snapshot/*`],
    }));
    this.snapshotRole.grantPassRole(fn.grantPrincipal);
    return new CustomResource(this, 'SnapshotRepository', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::OpenSearchSnapshotRepository',
      properties: {
        Endpoint: this.domain.domainEndpoint,
        Repository: names.snapshotRepository,
        Bucket: this.bucket.bucketName,
        Region: Stack.of(this).region,
        RoleArn: this.snapshotRole.roleArn,
      },
    });
  }
}
