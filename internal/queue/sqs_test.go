package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/queuetest"
	"github.com/fintech-banking/bank/internal/queue/sqsserver"
)

func TestSQSQueueContract(t *testing.T) {
	endpoint := sqsserver.Start(t)
	client := sqsserver.Client(endpoint)
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queue.Queue {
		url := sqsserver.NewQueues(t, client, cfg.VisibilityTimeout, cfg.MaxReceiveCount)
		q, err := queue.NewSQS(context.Background(), client, url)
		if err != nil {
			t.Fatal(err)
		}
		if q.MaxReceiveCount() != cfg.MaxReceiveCount {
			t.Fatalf("max receive count %d read from the RedrivePolicy, want %d", q.MaxReceiveCount(), cfg.MaxReceiveCount)
		}
		return q
	}, queuetest.Gaps{
		// SQS: "you might receive a success for a DeleteMessage with an old
		// receipt handle"; local-aws-sqs always accepts it.
		StaleReceiptsWork: true,
		// local-aws-sqs counts in-flight messages in ApproximateNumberOfMessages.
		VisibleCountsInFlight: true,
		// local-aws-sqs counts a ChangeMessageVisibility as a receive.
		ChangeVisibilityCounts: true,
	})
}

// TestOpenSQSFromEnvironment opens the queue as serve does: the SDK finds
// the endpoint, region and credentials in the standard variables.
func TestOpenSQSFromEnvironment(t *testing.T) {
	endpoint := sqsserver.Start(t)
	url := sqsserver.NewQueues(t, sqsserver.Client(endpoint), 30*time.Second, 3)
	t.Setenv("AWS_ENDPOINT_URL_SQS", endpoint)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	ctx := context.Background()
	q, err := queue.OpenSQS(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxReceiveCount() != 3 {
		t.Errorf("max receive count %d, want 3", q.MaxReceiveCount())
	}
	if err := q.Send(ctx, []byte(`{"event_id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []byte("\x00")); err == nil {
		t.Error("a body SQS cannot carry was sent")
	}
	if _, err := queue.OpenSQS(ctx, endpoint+"/000000000000/no-such-queue"); err == nil {
		t.Error("opened a queue that does not exist")
	}
}

func TestParseRedrivePolicy(t *testing.T) {
	for _, tt := range []struct {
		policy string
		max    int
		ok     bool
	}{
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":5}`, 5, true},
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"7"}`, 7, true},
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"x"}`, 0, false},
		{`{"maxReceiveCount":5}`, 0, false},
		{`not json`, 0, false},
	} {
		_, max, err := queue.ParseRedrivePolicy(tt.policy)
		if (err == nil) != tt.ok || max != tt.max {
			t.Errorf("ParseRedrivePolicy(%s) = %d, %v; want %d, ok %v", tt.policy, max, err, tt.max, tt.ok)
		}
	}
}
