import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { Cluster } from './cluster';
import { Database } from './database';
import { Edge } from './edge';
import { names } from './names';
import { Queue } from './queue';
import { Search } from './search';

export interface BankingStackProps extends StackProps {
  readonly zoneName: string;
  readonly hostedZoneId: string;
  readonly kubernetesVersion: string;
}

// BankingStack is everything in AWS that the operations runbook and
// deploy/k8s/overlays/aws take as given. Its account is left to deploy time
// (env-agnostic), so synth needs no credentials and makes no lookups.
export class BankingStack extends Stack {
  readonly cluster: Cluster;
  readonly database: Database;
  readonly queue: Queue;
  readonly search: Search;
  readonly edge: Edge;

  constructor(scope: Construct, id: string, props: BankingStackProps) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.0.0.0/16'), // the range alb-networkpolicy.yaml lets in
      maxAzs: 2,
    });
    this.cluster = new Cluster(this, 'Eks', { vpc, kubernetesVersion: props.kubernetesVersion });
    const pods = this.cluster.cluster.attrClusterSecurityGroupId;

    this.database = new Database(this, 'Database', { vpc, clientSecurityGroupId: pods });
    this.queue = new Queue(this, 'Queue');
    const podRole = this.cluster.serviceAccountRole('PodRole', names.podRole, names.namespace, names.serviceAccount);
    this.queue.grantServices(podRole);
    this.search = new Search(this, 'Search', { vpc, clientSecurityGroupId: pods });

    const alerts = new sns.Topic(this, 'Alerts', { topicName: names.alertsTopic });
    this.edge = new Edge(this, 'Edge', { zoneName: props.zoneName, hostedZoneId: props.hostedZoneId, alerts });

    // Runbook 6.2 rotates the Kubernetes Secret jwt-secret; its first key comes
    // from here (README: how to create the Secret from it).
    const jwt = new secretsmanager.Secret(this, 'JwtSecret', {
      secretName: names.jwtSecret,
      description: 'The first signing key of the Kubernetes Secret jwt-secret (key "key")',
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'key',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });

    const outputs: Record<string, string> = {
      ClusterName: this.cluster.cluster.ref,
      PodRoleArn: podRole.roleArn,
      DatabaseEndpoint: this.database.instance.dbInstanceEndpointAddress,
      DatabaseAdminSecretArn: this.database.instance.secret!.secretArn,
      QueueUrl: this.queue.queue.queueUrl,
      DeadLetterQueueUrl: this.queue.deadLetterQueue.queueUrl,
      RestApiId: this.edge.api.restApiId,
      DistributionId: this.edge.distribution.distributionId,
      DistributionDomainName: this.edge.distribution.distributionDomainName,
      MaintenanceBucketRegionalDomainName: this.edge.maintenanceBucket.bucketRegionalDomainName,
      OriginAccessControlId: this.edge.originAccessControl.originAccessControlId,
      MaintenanceRegionalDomainName: this.edge.maintenanceDomain.domainNameAliasDomainName,
      CertificateArn: this.edge.certificate.certificateArn,
      SearchEndpoint: this.search.domain.domainEndpoint,
      SnapshotRoleArn: this.search.snapshotRole.roleArn,
      JwtSecretArn: jwt.secretArn,
    };
    for (const [name, value] of Object.entries(outputs)) {
      new CfnOutput(this, name, { value });
    }
  }
}
