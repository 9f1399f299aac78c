import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { names } from './names';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  // The security group of the EKS cluster, which its managed nodes (and so
  // the pods) use: the only one let in on 5432.
  readonly clientSecurityGroupId: string;
}

// Database is the RDS PostgreSQL instance of runbook 2.4, 3.2, 4 and 7:
// Multi-AZ (3.2's forced failover), automated backups kept 14 days (7.2's
// point-in-time window), and a parameter group of its own for 4.3.
export class Database extends Construct {
  readonly instance: rds.DatabaseInstance;
  readonly parameterGroup: rds.ParameterGroup;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 });
    // RDS refuses ALTER SYSTEM, so runbook 4.3's "enable query logging
    // temporarily" is a change of this group's log_min_duration_statement
    // (dynamic: no reboot); -1 is the runbook's RESET. pg_stat_statements
    // must be preloaded before CREATE EXTENSION works (bank db slow-queries).
    this.parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `${names.dbInstance}: pg_stat_statements, statement logging`,
      parameters: {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': 'top',
        log_min_duration_statement: '-1',
        'rds.force_ssl': '1',
      },
    });

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${names.dbInstance}: PostgreSQL from the EKS cluster`,
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(ec2.Peer.securityGroupId(props.clientSecurityGroupId), ec2.Port.tcp(5432),
      'PostgreSQL from the pods');

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      instanceIdentifier: names.dbInstance,
      databaseName: names.dbName,
      engine,
      instanceType: new ec2.InstanceType(names.dbInstanceClass),
      multiAz: true,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      parameterGroup: this.parameterGroup,
      credentials: rds.Credentials.fromGeneratedSecret('bank_admin', { secretName: names.dbAdminSecret }),
      allocatedStorage: 100,
      maxAllocatedStorage: 1000,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      backupRetention: Duration.days(14),
      preferredBackupWindow: '03:00-03:30',
      preferredMaintenanceWindow: 'sun:04:00-sun:04:30',
      deleteAutomatedBackups: false,
      copyTagsToSnapshot: true,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      enablePerformanceInsights: true,
      cloudwatchLogsExports: ['postgresql'],
      autoMinorVersionUpgrade: true,
    });
  }
}
