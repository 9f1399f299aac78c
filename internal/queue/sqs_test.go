package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/queuetest"
	"github.com/fintech-banking/bank/internal/queue/sqsserver"
)

func TestSQSQueueContract(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the server's visibility timeouts pass in real seconds; the table queue's contract runs")
	}
	endpoint := sqsserver.Start(t)
	client := sqsserver.Client(endpoint)
	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) (queue.Queue, queuetest.Later) {
		url := sqsserver.NewQueues(t, client, cfg.VisibilityTimeout, cfg.MaxReceiveCount)
		q, err := queue.NewSQS(context.Background(), client, url)
		if err != nil {
			t.Fatal(err)
		}
		if q.MaxReceiveCount() != cfg.MaxReceiveCount {
			t.Fatalf("max receive count %d read from the RedrivePolicy, want %d", q.MaxReceiveCount(), cfg.MaxReceiveCount)
		}
		return q, queuetest.ServerClock
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
	t.Parallel()
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

// TestSQSSendRefusedEntry: SQS refuses one entry of a batch (too big for
// this queue's MaximumMessageSize) and takes the others: Send says so.
func TestSQSSendRefusedEntry(t *testing.T) {
	t.Parallel()
	endpoint := sqsserver.Start(t)
	client := sqsserver.Client(endpoint)
	ctx := context.Background()
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("small-dlq")}); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("small"), Attributes: map[string]string{
		"MaximumMessageSize": "1024",
		"RedrivePolicy":      `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:small-dlq","maxReceiveCount":5}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.NewSQS(ctx, client, aws.ToString(out.QueueUrl))
	if err != nil {
		t.Fatal(err)
	}
	big := `{"event_id":"big","text":"` + strings.Repeat("x", 2000) + `"}`
	err = q.Send(ctx, []byte(`{"event_id":"a"}`), []byte(big), []byte(`{"event_id":"b"}`))
	var se *queue.SendError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "refused") || fmt.Sprint(se.Sent) != "[0 2]" {
		t.Fatalf("send with an entry too big: %v, want the refusal, with messages 0 and 2 sent", err)
	}
	ms, err := q.Receive(ctx, 10, time.Second)
	if err != nil || len(ms) != 2 {
		t.Fatalf("received %d, %v; want the 2 entries SQS took", len(ms), err)
	}
}
