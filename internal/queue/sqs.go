package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// SQS is a Queue on Amazon SQS. It uses the queue URL it is given as it is
// and never changes the queue's attributes on its own: the queues and their
// RedrivePolicy are the operator's (runbook 5). Only SetVisibilityTimeout,
// an operator's command, writes an attribute.
type SQS struct {
	client     *sqs.Client
	url        string
	arn        string
	dlqURL     string
	dlqARN     string
	maxReceive int

	mu     sync.Mutex
	oldest time.Time // SentTimestamp of the oldest message of the last receive
	seenAt time.Time // when that receive happened
}

var _ Queue = (*SQS)(nil)

// OpenSQS connects to the SQS queue at queueURL with the SDK's default
// configuration: credentials, region (AWS_REGION, else the one in the
// queue's host name) and endpoint (AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL,
// which the SDK reads itself).
func OpenSQS(ctx context.Context, queueURL string) (*SQS, error) {
	// The SDK's own log lines (IMDS fallbacks, retries) would go to stderr
	// unstructured; its errors come back to the caller all the same.
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if region := regionOf(queueURL); region != "" {
		opts = append(opts, func(o *config.LoadOptions) error {
			if o.Region == "" {
				o.Region = region
			}
			return nil
		})
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = regionOf(queueURL)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region for queue %s: set AWS_REGION", queueURL)
	}
	return NewSQS(ctx, sqs.NewFromConfig(cfg), queueURL)
}

// regionOf reads the region of an SQS URL such as
// https://sqs.eu-west-1.amazonaws.com/123456789012/events.
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws" {
		return parts[1]
	}
	return ""
}

// NewSQS returns the queue at queueURL reached through client. It reads the
// queue's RedrivePolicy to find its dead-letter queue, and fails if it has
// none: without one, a message that always fails would come back for ever.
func NewSQS(ctx context.Context, client *sqs.Client, queueURL string) (*SQS, error) {
	if _, err := url.ParseRequestURI(queueURL); err != nil {
		return nil, fmt.Errorf("queue URL %q: %w", queueURL, err)
	}
	q := &SQS{client: client, url: queueURL}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return nil, fmt.Errorf("read the attributes of queue %s: %w", queueURL, err)
	}
	q.arn = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	policy := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if policy == "" {
		return nil, fmt.Errorf("queue %s has no RedrivePolicy: give it a dead-letter queue (runbook 5.4)", queueURL)
	}
	q.dlqARN, q.maxReceive, err = ParseRedrivePolicy(policy)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queueURL, err)
	}
	name, account, err := arnQueue(q.dlqARN)
	if err != nil {
		return nil, fmt.Errorf("queue %s: dead-letter queue: %w", queueURL, err)
	}
	u, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name, QueueOwnerAWSAccountId: &account})
	if err != nil {
		return nil, fmt.Errorf("find the dead-letter queue %s of %s: %w", name, queueURL, err)
	}
	q.dlqURL = aws.ToString(u.QueueUrl)
	return q, nil
}

// ParseRedrivePolicy reads a RedrivePolicy, whose maxReceiveCount comes
// as a number or as a string depending on who wrote it.
func ParseRedrivePolicy(policy string) (arn string, maxReceive int, err error) {
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return "", 0, fmt.Errorf("RedrivePolicy %s: %w", policy, err)
	}
	raw := strings.Trim(string(p.MaxReceiveCount), `"`)
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || p.DeadLetterTargetArn == "" {
		return "", 0, fmt.Errorf("RedrivePolicy %s: want deadLetterTargetArn and a maxReceiveCount from 1", policy)
	}
	return p.DeadLetterTargetArn, n, nil
}

// arnQueue splits arn:aws:sqs:region:account:name.
func arnQueue(arn string) (name, account string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return "", "", fmt.Errorf("%q is not an SQS queue ARN", arn)
	}
	return parts[5], parts[4], nil
}

// Name is the main queue's name, the last part of its URL.
func (q *SQS) Name() string { return q.url[strings.LastIndex(q.url, "/")+1:] }

// MaxReceiveCount is the RedrivePolicy's maxReceiveCount.
func (q *SQS) MaxReceiveCount() int { return q.maxReceive }

// Limits of SendMessageBatch.
const (
	sqsBatch      = 10
	sqsBatchBytes = 256 * 1024
)

// Send sends bodies in batches of up to ten (and 256 KiB). Entries SQS
// fails on its side are sent again, a few times. A body SQS refuses (the
// sender's fault: too big, not text) does not stop the others: Send sends
// what it can and returns a *SendError that lists what went. SQS standard
// queues do not keep order.
func (q *SQS) Send(ctx context.Context, bodies ...[]byte) error {
	var (
		sent    []int
		errs    []error
		texts   [][]byte
		indices []int // texts[i] is bodies[indices[i]]
	)
	for i, b := range bodies {
		t, err := sqsText(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("message %d: %w", i, err))
			continue
		}
		texts = append(texts, t)
		indices = append(indices, i)
	}
	for start := 0; start < len(texts); {
		end, size := start, 0
		for end < len(texts) && end-start < sqsBatch && (end == start || size+len(texts[end]) <= sqsBatchBytes) {
			size += len(texts[end])
			end++
		}
		ok, err := q.sendBatch(ctx, texts[start:end])
		for _, j := range ok {
			sent = append(sent, indices[start+j])
		}
		if err != nil {
			errs = append(errs, err)
			var entries *entryErrors
			if !errors.As(err, &entries) {
				break // the call itself failed: the next would too
			}
		}
		start = end
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(sent)
	return &SendError{Sent: sent, Err: fmt.Errorf("send to queue %s: %d of %d sent: %w", q.Name(), len(sent), len(bodies), errors.Join(errs...))}
}

// entryErrors says SQS took the batch but failed some of its entries.
type entryErrors struct{ msg string }

func (e *entryErrors) Error() string { return e.msg }

// sqsText returns b as SQS can carry it: text of the XML character set.
// A JSON body may hold U+FFFE or U+FFFF in its strings, which SQS refuses:
// they go as the JSON escapes \ufffe and \uffff, the same JSON value.
// Anything else SQS cannot carry is refused.
func sqsText(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("SQS cannot carry an empty body")
	}
	if !utf8.Valid(b) {
		return nil, errors.New("SQS carries UTF-8 text only; this body is not")
	}
	bad := func(r rune) bool {
		return !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000)
	}
	if !strings.ContainsFunc(string(b), bad) {
		return b, nil
	}
	if !json.Valid(b) {
		r, _ := utf8.DecodeRuneInString(string(b)[strings.IndexFunc(string(b), bad):])
		return nil, fmt.Errorf("SQS cannot carry the character %U", r)
	}
	// In valid JSON a raw character outside SQS's set can only be U+FFFE or
	// U+FFFF inside a string (control characters must be escaped already).
	var out strings.Builder
	for _, r := range string(b) {
		if bad(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return []byte(out.String()), nil
}

// sendBatch sends one batch and returns the indices of the bodies SQS
// took. It retries entries SQS failed on its side; an entry refused as the
// sender's fault is not retried.
func (q *SQS) sendBatch(ctx context.Context, bodies [][]byte) ([]int, error) {
	pending := map[string]int{}
	for i := range bodies {
		pending[strconv.Itoa(i)] = i
	}
	var sent []int
	for attempt := 1; ; attempt++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for i, b := range bodies {
			id := strconv.Itoa(i)
			if _, ok := pending[id]; ok {
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(b))})
			}
		}
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return sent, err
		}
		for _, s := range out.Successful {
			if i, ok := pending[aws.ToString(s.Id)]; ok {
				sent = append(sent, i)
				delete(pending, aws.ToString(s.Id))
			}
		}
		if len(pending) == 0 {
			return sent, nil
		}
		var refused []string
		for _, f := range out.Failed {
			if f.SenderFault {
				refused = append(refused, fmt.Sprintf("SQS refused a message: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
				delete(pending, aws.ToString(f.Id))
			}
		}
		if len(pending) == 0 {
			return sent, &entryErrors{strings.Join(refused, "; ")}
		}
		if attempt == 3 {
			last := "no answer for them"
			if len(out.Failed) > 0 {
				last = aws.ToString(out.Failed[0].Code) + ": " + aws.ToString(out.Failed[0].Message)
			}
			return sent, &entryErrors{fmt.Sprintf("%d messages failed 3 times, last: %s", len(pending), last)}
		}
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-time.After(time.Duration(attempt*100) * time.Millisecond):
		}
	}
}

// Receive long-polls for up to wait (whole seconds, at most 20) for up to
// max messages (at most 10). It passes no VisibilityTimeout: the queue's
// applies, so that the runbook's set-queue-attributes reaches consumers.
func (q *SQS) Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("receive from queue %s: max %d must be at least 1", q.Name(), max)
	}
	secs := int32(min(wait, 20*time.Second) / time.Second)
	names := []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(min(max, 10)),
		WaitTimeSeconds:             secs,
		MessageSystemAttributeNames: names,
		// Servers that predate MessageSystemAttributeNames read this one.
		//lint:ignore SA1019 kept for those servers, beside its replacement
		AttributeNames: []types.QueueAttributeName{"ApproximateReceiveCount", "SentTimestamp"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", q.Name(), err)
	}
	ms := make([]Message, 0, len(out.Messages))
	var oldest time.Time
	for _, m := range out.Messages {
		msg := Message{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body)), Receipt: aws.ToString(m.ReceiptHandle)}
		msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			msg.SentAt = time.UnixMilli(ms)
			if oldest.IsZero() || msg.SentAt.Before(oldest) {
				oldest = msg.SentAt
			}
		}
		ms = append(ms, msg)
	}
	if !oldest.IsZero() {
		q.mu.Lock()
		q.oldest, q.seenAt = oldest, time.Now()
		q.mu.Unlock()
	}
	return ms, nil
}

// unknownReceipt maps SQS's answers for a stale or foreign receipt to
// ErrUnknownReceipt.
func unknownReceipt(err error, receipt string) error {
	var rh *types.ReceiptHandleIsInvalid
	var nf *types.MessageNotInflight
	var api smithy.APIError
	if errors.As(err, &rh) || errors.As(err, &nf) ||
		(errors.As(err, &api) && strings.Contains(api.ErrorCode(), "ReceiptHandleIsInvalid")) {
		return fmt.Errorf("%w: %s", ErrUnknownReceipt, err.Error())
	}
	return err
}

// Delete deletes received messages, ten per request (SQS's batch). SQS may
// accept the receipt of an earlier receive of the same message without an
// error: consumers deduplicate on the event id.
func (q *SQS) Delete(ctx context.Context, receipts ...string) error {
	var errs []error
	for start := 0; start < len(receipts); start += 10 {
		chunk := receipts[start:min(start+10, len(receipts))]
		if len(chunk) == 1 {
			if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: &chunk[0]}); err != nil {
				errs = append(errs, unknownReceipt(err, chunk[0]))
			}
			continue
		}
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: &chunk[i]}
		}
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			err := fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			if strings.Contains(aws.ToString(f.Code), "ReceiptHandleIsInvalid") || strings.Contains(aws.ToString(f.Code), "MessageNotInflight") {
				err = fmt.Errorf("%w: %s", ErrUnknownReceipt, err.Error())
			}
			if i >= 0 && i < len(chunk) {
				err = fmt.Errorf("receipt %s: %w", chunk[i], err)
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete from queue %s: %w", q.Name(), err)
	}
	return nil
}

// ChangeVisibility hides a received message for d more (0 makes it visible).
func (q *SQS) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	if err := checkVisibility(d); err != nil {
		return err
	}
	if _, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &q.url,
		ReceiptHandle: &receipt, VisibilityTimeout: int32(d / time.Second)}); err != nil {
		return fmt.Errorf("change visibility in queue %s: %w", q.Name(), unknownReceipt(err, receipt))
	}
	return nil
}

// Stats reads both queues' ApproximateNumberOfMessages, …NotVisible and
// …Delayed. SQS has no attribute for the oldest message's age (it is a
// CloudWatch metric): OldestAge of the main queue is the age of the
// oldest message this process received in its last receive, from its
// SentTimestamp, grown by the time since; 0 when this process has not
// received one or the queue is empty.
func (q *SQS) Stats(ctx context.Context) (Stats, error) {
	main, err := q.depth(ctx, q.url)
	if err != nil {
		return Stats{}, err
	}
	dlq, err := q.depth(ctx, q.dlqURL)
	if err != nil {
		return Stats{}, err
	}
	q.mu.Lock()
	oldest := q.oldest
	q.mu.Unlock()
	if !oldest.IsZero() && main.Visible+main.InFlight+main.Delayed > 0 {
		main.OldestAge = max(time.Since(oldest), 0)
	}
	return Stats{Main: main, DLQ: dlq}, nil
}

func (q *SQS) depth(ctx context.Context, u string) (Depth, error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		return Depth{}, fmt.Errorf("read the attributes of queue %s: %w", u, err)
	}
	n := func(a types.QueueAttributeName) int64 {
		v, _ := strconv.ParseInt(out.Attributes[string(a)], 10, 64)
		return v
	}
	return Depth{
		Visible:  n(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}

// Purge purges one queue. SQS finishes a purge within 60 seconds and allows
// one per queue per 60 seconds.
func (q *SQS) Purge(ctx context.Context, which Which) error {
	u := q.url
	switch which {
	case Main:
	case DLQ:
		u = q.dlqURL
	default:
		return fmt.Errorf("unknown queue %q: want main or dlq", which)
	}
	if _, err := q.client.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &u}); err != nil {
		return fmt.Errorf("purge queue %s: %w", u, err)
	}
	return nil
}

// Redrive moves dead-lettered messages back to the main queue. All of them
// (max <= 0) go with a message move task, SQS's own redrive, which Redrive
// waits for; when the task cannot start, or for a bounded max, it receives
// from the dead-letter queue, sends the bodies to the main queue and
// deletes them, as the runbook's redrive.py does.
func (q *SQS) Redrive(ctx context.Context, max int) (int, error) {
	if max <= 0 {
		n, err := q.moveTask(ctx)
		if err == nil {
			return n, nil
		}
		var api smithy.APIError
		if !errors.As(err, &api) {
			return n, err
		}
		// The server or the role does not allow move tasks: fall back.
	}
	return q.redriveByHand(ctx, max)
}

func (q *SQS) moveTask(ctx context.Context) (int, error) {
	start, err := q.client.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: &q.dlqARN, DestinationArn: &q.arn})
	if err != nil {
		return 0, err
	}
	handle := aws.ToString(start.TaskHandle)
	for {
		out, err := q.client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &q.dlqARN, MaxResults: aws.Int32(10)})
		if err != nil {
			return 0, fmt.Errorf("follow the redrive of %s: %w", q.dlqURL, err)
		}
		for _, t := range out.Results {
			if handle != "" && aws.ToString(t.TaskHandle) != handle && aws.ToString(t.TaskHandle) != "" {
				continue
			}
			switch aws.ToString(t.Status) {
			case "COMPLETED":
				return int(t.ApproximateNumberOfMessagesMoved), nil
			case "FAILED", "CANCELLED":
				return int(t.ApproximateNumberOfMessagesMoved), fmt.Errorf("the redrive of %s ended %s: %s",
					q.dlqURL, aws.ToString(t.Status), aws.ToString(t.FailureReason))
			}
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("the redrive of %s is still running: %w", q.dlqURL, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (q *SQS) redriveByHand(ctx context.Context, max int) (int, error) {
	moved, empty := 0, 0
	for max <= 0 || moved < max {
		n := int32(10)
		if max > 0 {
			n = int32(min(10, max-moved))
		}
		// The dead-letter queue has no consumer but this one: a visibility
		// timeout of its own here is harmless.
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &q.dlqURL, MaxNumberOfMessages: n,
			WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			return moved, fmt.Errorf("redrive: receive from %s: %w", q.dlqURL, err)
		}
		if len(out.Messages) == 0 {
			// An empty answer may be a sample of a few servers: look twice.
			if empty++; empty == 2 {
				break
			}
			continue
		}
		empty = 0
		bodies := make([][]byte, len(out.Messages))
		for i, m := range out.Messages {
			bodies[i] = []byte(aws.ToString(m.Body))
		}
		if _, err := q.sendBatch(ctx, bodies); err != nil {
			return moved, fmt.Errorf("redrive: send to %s (the messages stay in the dead-letter queue; some may now be in both): %w", q.url, err)
		}
		entries := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		del, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.dlqURL, Entries: entries})
		if err != nil {
			return moved, fmt.Errorf("redrive: delete from %s (the messages are now in both queues): %w", q.dlqURL, err)
		}
		if len(del.Failed) > 0 {
			return moved, fmt.Errorf("redrive: %d messages could not be deleted from %s and are now in both queues: %s",
				len(del.Failed), q.dlqURL, aws.ToString(del.Failed[0].Message))
		}
		moved += len(out.Messages)
	}
	return moved, nil
}

// SetVisibilityTimeout sets the main queue's VisibilityTimeout attribute
// (whole seconds, up to 12 h), as the runbook's set-queue-attributes does.
func (q *SQS) SetVisibilityTimeout(ctx context.Context, d time.Duration) error {
	if err := checkVisibility(d); err != nil {
		return err
	}
	if d%time.Second != 0 {
		return fmt.Errorf("SQS visibility timeouts are whole seconds, not %s", d)
	}
	v := strconv.Itoa(int(d / time.Second))
	if _, err := q.client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &q.url,
		Attributes: map[string]string{string(types.QueueAttributeNameVisibilityTimeout): v}}); err != nil {
		return fmt.Errorf("set the visibility timeout of queue %s: %w", q.Name(), err)
	}
	return nil
}

// VisibilityTimeout reads the main queue's VisibilityTimeout attribute.
func (q *SQS) VisibilityTimeout(ctx context.Context) (time.Duration, error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q.url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout}})
	if err != nil {
		return 0, fmt.Errorf("read the visibility timeout of queue %s: %w", q.Name(), err)
	}
	s, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
	if err != nil {
		return 0, fmt.Errorf("queue %s: VisibilityTimeout %q", q.Name(), out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
	}
	return time.Duration(s) * time.Second, nil
}
