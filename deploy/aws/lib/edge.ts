import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { names } from './names';

export interface EdgeProps {
  // The public zone, e.g. bank.example.com, and its Route 53 id: imported,
  // not looked up, so that synth needs no AWS account.
  readonly zoneName: string;
  readonly hostedZoneId: string;
  readonly alerts: sns.ITopic;
}

// Edge is the way in from the internet, as runbook 3.3, 3.4 and 6.1 expect:
//
//   api.<zone> (Route 53) -> CloudFront -> API Gateway stage prod -> origin.<zone>,
//   the ALB that deploy/k8s/overlays/aws's Ingress makes.
//
// For 3.4, CloudFront can be switched to the maintenance page
// (cutover/maintenance-mode-config.json) and, when CloudFront itself is the
// trouble, DNS can point api.<zone> at a regional API Gateway custom domain
// whose API answers every request 503 (cutover/maintenance-dns-change.json).
// One ACM certificate serves CloudFront, API Gateway and the ALB; 6.1's alarm
// watches its expiry.
export class Edge extends Construct {
  readonly apiHost: string;
  readonly originHost: string;
  readonly certificate: acm.Certificate;
  readonly expiryAlarm: cloudwatch.Alarm;
  readonly api: apigw.RestApi;
  readonly maintenanceApi: apigw.RestApi;
  readonly maintenanceDomain: apigw.DomainName;
  readonly distribution: cloudfront.Distribution;
  readonly maintenanceBucket: s3.Bucket;
  readonly originAccessControl: cloudfront.S3OriginAccessControl;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    this.apiHost = `api.${props.zoneName}`;
    this.originHost = `origin.${props.zoneName}`;
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      zoneName: props.zoneName,
      hostedZoneId: props.hostedZoneId,
    });

    this.certificate = new acm.Certificate(this, 'Certificate', {
      domainName: this.apiHost,
      subjectAlternativeNames: [this.originHost],
      validation: acm.CertificateValidation.fromDns(zone),
    });
    // Runbook 6.1's put-metric-alarm, kept as code.
    this.expiryAlarm = new cloudwatch.Alarm(this, 'CertificateExpiry', {
      alarmName: names.certExpiryAlarm,
      alarmDescription: `The certificate of ${this.apiHost} expires in less than 30 days (runbook 6.1)`,
      metric: this.certificate.metricDaysToExpiry({ period: Duration.days(1), statistic: 'Minimum' }),
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: 30,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.expiryAlarm.addAlarmAction(new actions.SnsAction(props.alerts));

    this.api = this.restApi();
    this.maintenanceApi = this.maintenanceRestApi();
    // Route 53 sends api.<zone> here only during a DNS cut-over (3.4).
    this.maintenanceDomain = new apigw.DomainName(this, 'MaintenanceDomain', {
      domainName: this.apiHost,
      certificate: this.certificate,
      endpointType: apigw.EndpointType.REGIONAL,
      securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      mapping: this.maintenanceApi,
    });

    this.maintenanceBucket = new s3.Bucket(this, 'MaintenancePage', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
    new s3deploy.BucketDeployment(this, 'MaintenancePageContent', {
      sources: [s3deploy.Source.asset(path.join(__dirname, '..', '..', 'cutover', 'site'))],
      destinationBucket: this.maintenanceBucket,
    });
    this.originAccessControl = new cloudfront.S3OriginAccessControl(this, 'MaintenancePageAccess', {
      description: 'CloudFront reads the maintenance page',
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `${names.restApi}: api and maintenance page`,
      domainNames: [this.apiHost],
      certificate: this.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableIpv6: false, // api.<zone> has an A record only, so a DNS cut-over moves every client
      defaultBehavior: {
        origin: new origins.RestApiOrigin(this.api, { originId: names.apiOriginId }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        // Every answer is a caller's own: CloudFront passes all through.
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      additionalBehaviors: {
        '/maintenance.html': {
          origin: origins.S3BucketOrigin.withOriginAccessControl(this.maintenanceBucket,
            { originId: names.maintenanceOriginId, originAccessControl: this.originAccessControl }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        },
      },
    });
    new route53.ARecord(this, 'ApiRecord', {
      zone,
      recordName: this.apiHost,
      target: route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution)),
    });
  }

  // restApi is runbook 3.3's API: stage prod, throttled, with a cache cluster
  // so that flush-stage-cache has something to flush. No method caches an
  // answer: each is a caller's own (balances, transactions), and a cached
  // one would be served to the next caller of the same path.
  private restApi(): apigw.RestApi {
    const api = new apigw.RestApi(this, 'Api', {
      restApiName: names.restApi,
      description: 'fintech-banking public API, proxied to the cluster\'s ingress',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: names.stage,
        throttlingRateLimit: 10000,
        throttlingBurstLimit: 5000,
        cacheClusterEnabled: true,
        cacheClusterSize: '0.5',
        cachingEnabled: false,
        metricsEnabled: true,
      },
    });
    const integration = (p: string) => new apigw.HttpIntegration(`https://${this.originHost}${p}`, {
      httpMethod: 'ANY',
      proxy: true,
      options: p.includes('{proxy}')
        ? { requestParameters: { 'integration.request.path.proxy': 'method.request.path.proxy' } }
        : {},
    });
    api.root.addMethod('ANY', integration('/'));
    api.root.addResource('{proxy+}').addMethod('ANY', integration('/{proxy}'), {
      requestParameters: { 'method.request.path.proxy': true },
    });
    return api;
  }

  // maintenanceRestApi answers every request as the services do in
  // maintenance mode: 503, Retry-After, error code "maintenance".
  private maintenanceRestApi(): apigw.RestApi {
    const api = new apigw.RestApi(this, 'MaintenanceApi', {
      restApiName: names.maintenanceApi,
      description: 'Answers every request 503 during a DNS cut-over (runbook 3.4)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: { stageName: names.stage },
    });
    const body = JSON.stringify({
      error: { code: 'maintenance', message: 'The bank is down for maintenance. Please try again later.' },
    });
    const integration = new apigw.MockIntegration({
      passthroughBehavior: apigw.PassthroughBehavior.NEVER,
      // Any body type a client sends maps to the same answer.
      requestTemplates: Object.fromEntries(
        ['application/json', 'application/x-www-form-urlencoded', 'text/plain']
          .map((t) => [t, '{"statusCode": 503}'])),
      integrationResponses: [{
        statusCode: '503',
        responseTemplates: { 'application/json': body },
        responseParameters: { 'method.response.header.Retry-After': "'1800'" },
      }],
    });
    const method: apigw.MethodOptions = {
      methodResponses: [{ statusCode: '503', responseParameters: { 'method.response.header.Retry-After': true } }],
    };
    api.root.addMethod('ANY', integration, method);
    api.root.addResource('{proxy+}').addMethod('ANY', integration, method);
    return api;
  }
}
