import { CfnJson } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { names } from './names';

export interface ClusterProps {
  readonly vpc: ec2.IVpc;
  readonly kubernetesVersion: string;
}

// Cluster is the EKS cluster of runbook 2.3 with its managed node group, and
// the OpenID Connect provider that lets a Kubernetes service account assume
// an IAM role (IRSA).
//
// It is written with the CloudFormation resources (CfnCluster, CfnNodegroup)
// rather than aws_eks.Cluster: that construct needs a kubectl Lambda layer
// package and runs kubectl from custom resources to manage aws-auth and
// manifests, while here deploy/k8s owns everything inside the cluster and
// access is granted with EKS access entries, which CloudFormation manages.
export class Cluster extends Construct {
  readonly cluster: eks.CfnCluster;
  readonly nodegroup: eks.CfnNodegroup;
  readonly oidcProvider: iam.OidcProviderNative;

  constructor(scope: Construct, id: string, props: ClusterProps) {
    super(scope, id);
    const clusterRole = new iam.Role(this, 'ClusterRole', {
      assumedBy: new iam.ServicePrincipal('eks.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKSClusterPolicy')],
    });
    this.cluster = new eks.CfnCluster(this, 'Cluster', {
      name: names.cluster,
      version: props.kubernetesVersion,
      roleArn: clusterRole.roleArn,
      resourcesVpcConfig: {
        subnetIds: props.vpc.privateSubnets.map((s) => s.subnetId),
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
      },
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: true },
      logging: {
        clusterLogging: { enabledTypes: [{ type: 'api' }, { type: 'audit' }, { type: 'authenticator' }] },
      },
    });

    const nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [
        'AmazonEKSWorkerNodePolicy',
        'AmazonEKS_CNI_Policy',
        'AmazonEC2ContainerRegistryReadOnly',
      ].map((n) => iam.ManagedPolicy.fromAwsManagedPolicyName(n)),
    });
    // Runbook 2.3 scales it with minSize=3,maxSize=10,desiredSize=5: the
    // bounds here are the same, and the desired size the quiet hours' one.
    this.nodegroup = new eks.CfnNodegroup(this, 'Workers', {
      clusterName: this.cluster.ref,
      nodegroupName: names.nodegroup,
      nodeRole: nodeRole.roleArn,
      subnets: props.vpc.privateSubnets.map((s) => s.subnetId),
      amiType: 'AL2023_x86_64_STANDARD',
      instanceTypes: ['m6i.xlarge'],
      scalingConfig: { minSize: 3, maxSize: 10, desiredSize: 3 },
      updateConfig: { maxUnavailable: 1 },
    });

    this.oidcProvider = new iam.OidcProviderNative(this, 'OidcProvider', {
      url: this.cluster.attrOpenIdConnectIssuerUrl,
      clientIds: ['sts.amazonaws.com'],
    });
  }

  // serviceAccountRole returns a role that only the Kubernetes service
  // account namespace/name of this cluster can assume (IRSA).
  serviceAccountRole(id: string, roleName: string, namespace: string, serviceAccount: string): iam.Role {
    // The condition's keys hold the issuer, known only at deploy time, and
    // CloudFormation cannot compute a key: CfnJson resolves them first.
    const issuer = this.oidcProvider.oidcProviderIssuer;
    const conditions = new CfnJson(this, `${id}Conditions`, {
      value: {
        [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
        [`${issuer}:aud`]: 'sts.amazonaws.com',
      },
    });
    return new iam.Role(this, id, {
      roleName,
      assumedBy: new iam.FederatedPrincipal(
        this.oidcProvider.oidcProviderArn,
        { StringEquals: conditions },
        'sts:AssumeRoleWithWebIdentity',
      ),
    });
  }
}
