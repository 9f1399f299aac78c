import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { names } from './names';

// Queue is the SQS queue of runbook 5 and its dead-letter queue. The services
// find the DLQ and maxReceiveCount in the queue's RedrivePolicy (they never
// create or change a queue themselves), so both are set here.
export class Queue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: names.deadLetterQueue,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: names.queue,
      // The table queue's defaults: 30 s visibility, 5 receives, then the DLQ.
      visibilityTimeout: Duration.seconds(30),
      retentionPeriod: Duration.days(4),
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  // grantServices lets the services' pods use the queue: every service runs
  // the outbox relay (send), notification-service consumes (receive, delete,
  // change visibility), and the operator's `bank queue` commands, run in a
  // pod (docs/operations.md), read depths, purge, set the visibility timeout
  // and redrive the DLQ (a message move task, or receive, send and delete).
  grantServices(role: iam.IGrantable): void {
    const both = [this.queue.queueArn, this.deadLetterQueue.queueArn];
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: [
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:SendMessage',
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:PurgeQueue',
        'sqs:SetQueueAttributes',
      ],
      resources: both,
    }));
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask'],
      resources: [this.deadLetterQueue.queueArn],
    }));
  }
}
