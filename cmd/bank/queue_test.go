package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/queue/sqsserver"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

type queueStatsRow struct {
	Queue     string  `json:"queue"`
	Visible   int64   `json:"visible"`
	InFlight  int64   `json:"in_flight"`
	Delayed   int64   `json:"delayed"`
	OldestAge float64 `json:"oldest_age_seconds"`
}

func queueStatsOf(t *testing.T, env map[string]string) []queueStatsRow {
	t.Helper()
	out, err := runArgs(t, env, "queue", "stats", "-o", "json")
	if err != nil {
		t.Fatalf("queue stats: %v\n%s", err, out)
	}
	var rows []queueStatsRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("queue stats -o json: %q: %v", out, err)
	}
	return rows
}

// TestQueueRelayAndCommands serves the platform on the table queue: the
// ledger's events go through the outbox and the relay into the queue, the
// metrics show them, and the operator commands act on the queue.
func TestQueueRelayAndCommands(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.URL(t, d)
			// The queue is this test's: no consumer takes its messages.
			b := startBankWith(t, dbURL, map[string]string{"BANK_NOTIFICATION_CONSUMER": "false"})
			c, _ := b.customer("queuetest")
			b.account(c, "EUR", 1000)
			env := map[string]string{"BANK_DATABASE_URL": dbURL}

			// The account's events reach the queue; the outbox empties.
			var rows []queueStatsRow
			poll.Wait(30*time.Second, func() bool { rows = queueStatsOf(t, env); return rows[0].Visible > 0 })
			if rows[0].Queue != "notifications" || rows[0].Visible == 0 {
				t.Fatalf("queue stats: %+v, want the ledger's events in notifications", rows)
			}
			events := rows[0].Visible
			db, err := store.Open(context.Background(), dbURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if lag, err := queue.Lag(context.Background(), db, time.Now(), false); err != nil || lag != 0 {
				t.Errorf("outbox lag %s, %v after the relay ran, want 0", lag, err)
			}
			_, _, metrics := getAs(t, b.url+"/actuator/prometheus", "")
			for _, want := range []string{`bank_queue_messages{queue="notifications",state="visible"}`, "bank_outbox_relay_published_total",
				"bank_outbox_relay_lag_seconds", "bank_queue_messages_sent_total", "bank_queue_oldest_message_age_seconds"} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/actuator/prometheus has no %s", want)
				}
			}

			// set-visibility reaches the serving replica's queue: a message
			// received through a queue opened apart comes back after 1 s.
			if out, err := runArgs(t, env, "queue", "set-visibility", "--seconds", "1"); err != nil || !strings.Contains(out, "1s") {
				t.Fatalf("queue set-visibility: %v\n%s", err, out)
			}
			q, err := queue.OpenTable(context.Background(), db, queue.DefaultTableConfig())
			if err != nil {
				t.Fatal(err)
			}
			if d, err := q.VisibilityTimeout(context.Background()); err != nil || d != time.Second {
				t.Fatalf("visibility timeout %s, %v after set-visibility --seconds 1", d, err)
			}
			// Five failed receives dead-letter every message.
			ctx := context.Background()
			for i := range 5 {
				ms, err := q.Receive(ctx, 100, 3*time.Second)
				if err != nil || int64(len(ms)) != events {
					t.Fatalf("receive %d: %d messages, %v; want %d", i+1, len(ms), err, events)
				}
				for _, m := range ms {
					if m.ReceiveCount != i+1 {
						t.Fatalf("receive %d: count %d", i+1, m.ReceiveCount)
					}
					if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			if ms, err := q.Receive(ctx, 100, 0); err != nil || len(ms) != 0 {
				t.Fatalf("a sixth receive: %d messages, %v; want none", len(ms), err)
			}
			rows = queueStatsOf(t, env)
			if rows[1].Visible != events || rows[0].Visible != 0 {
				t.Fatalf("after 5 failed receives: %+v, want all %d in the dlq", rows, events)
			}
			out, err := runArgs(t, env, "queue", "redrive", "--max", "1", "-o", "json")
			if err != nil || !strings.Contains(out, `"moved": 1`) {
				t.Fatalf("queue redrive: %v\n%s", err, out)
			}
			if rows = queueStatsOf(t, env); rows[1].Visible != events-1 || rows[0].Visible != 1 {
				t.Fatalf("after the redrive of 1: %+v", rows)
			}
			if out, err := runArgs(t, env, "queue", "redrive"); err != nil || !strings.Contains(out, "moved "+strconv.FormatInt(events-1, 10)) {
				t.Fatalf("queue redrive: %v\n%s", err, out)
			}
			if rows = queueStatsOf(t, env); rows[1].Visible != 0 || rows[0].Visible != events {
				t.Fatalf("after the redrive of all: %+v", rows)
			}

			// purge refuses without --yes, then purges.
			if out, err := runArgs(t, env, "queue", "purge", "--queue", "main"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") {
				t.Fatalf("purge without --yes: %v (exit %d)\n%s", err, exitCode(err), out)
			}
			if rows = queueStatsOf(t, env); rows[0].Visible != events {
				t.Fatalf("purge without --yes purged: %+v", rows)
			}
			if out, err := runArgs(t, env, "queue", "purge", "--queue", "main", "--yes"); err != nil {
				t.Fatalf("purge: %v\n%s", err, out)
			}
			if rows = queueStatsOf(t, env); rows[0].Visible != 0 {
				t.Fatalf("after purge: %+v", rows)
			}
		})
	}
}

func TestQueueCommandErrors(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t, store.SQLite)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"queue", "purge", "--queue", "both", "--yes"}, `--queue must be main or dlq, not "both"`},
		{[]string{"queue", "purge", "--queue", "dlq"}, "add --yes"},
		{[]string{"queue", "set-visibility"}, "--seconds is required"},
		{[]string{"queue", "set-visibility", "--seconds", "50000"}, "not 50000"},
		{[]string{"queue", "redrive", "--max", "-1"}, "--max must be 0"},
		{[]string{"queue", "stats", "-o", "yaml"}, `-o must be table or json, not "yaml"`},
		{[]string{"queue", "drain"}, `unknown command "queue drain"`},
		{[]string{"queue", "stats"}, "there is no database at"},
		{[]string{"queue", "stats", "--queue-url", "ftp://x"}, `--queue-url must be "db" or an SQS queue URL`},
	} {
		out, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": dbURL}, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bank %s: %v (%s), want an error with %q", strings.Join(tt.args, " "), err, out, tt.want)
		}
	}
}

// TestQueueCommandsOnSQS runs the operator commands against SQS (a local
// server), the SDK finding it through AWS_ENDPOINT_URL_SQS as in production.
func TestQueueCommandsOnSQS(t *testing.T) {
	endpoint, url, q := sqsWithDeadLetters(t)
	ctx := context.Background()
	env := map[string]string{"BANK_QUEUE_URL": url}
	var rows []queueStatsRow
	poll.Wait(30*time.Second, func() bool { rows = queueStatsOf(t, env); return rows[1].Visible == 2 })
	if !strings.HasPrefix(rows[0].Queue, "test-") || rows[1].Visible != 2 {
		t.Fatalf("queue stats: %+v, want 2 in the dlq", rows)
	}
	if out, err := runArgs(t, env, "queue", "redrive", "-o", "json"); err != nil || !strings.Contains(out, `"moved": 2`) {
		t.Fatalf("queue redrive: %v\n%s", err, out)
	}
	if out, err := runArgs(t, env, "queue", "set-visibility", "--seconds", "300"); err != nil {
		t.Fatalf("queue set-visibility: %v\n%s", err, out)
	}
	if d, err := q.VisibilityTimeout(ctx); err != nil || d != 300*time.Second {
		t.Fatalf("visibility timeout %s, %v; want 5m0s", d, err)
	}
	if out, err := runArgs(t, env, "queue", "purge", "--queue", "main", "--yes"); err != nil || !strings.Contains(out, "60 s") {
		t.Fatalf("queue purge: %v\n%s", err, out)
	}
	out, err := runArgs(t, map[string]string{"BANK_QUEUE_URL": endpoint + "/000000000000/missing"}, "queue", "stats")
	if err == nil || !strings.Contains(err.Error(), "BANK_QUEUE_URL "+endpoint+"/000000000000/missing") {
		t.Fatalf("stats of a queue that does not exist: %v\n%s", err, out)
	}
}

// TestQueueServeOnSQS serves the platform with BANK_QUEUE_URL naming an SQS
// queue (a local server): the ledger's events reach it through the relay.
func TestQueueServeOnSQS(t *testing.T) {
	endpoint := sqsserver.Start(t)
	client := sqsserver.Client(endpoint)
	url := sqsserver.NewQueues(t, client, 30*time.Second, 5)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_SQS": endpoint, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none"} {
		t.Setenv(k, v)
	}
	// The notification consumer would take the events before the test does.
	b := startBankWith(t, storetest.URL(t, store.SQLite), map[string]string{"BANK_QUEUE_URL": url, "BANK_NOTIFICATION_CONSUMER": "false"})
	c, _ := b.customer("sqsuser")
	a := b.account(c, "EUR", 700)
	ctx := context.Background()
	q, err := queue.NewSQS(ctx, client, url)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	found := false
	for !found && time.Now().Before(deadline) {
		ms, err := q.Receive(ctx, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			var h event.Header
			if err := json.Unmarshal(m.Body, &h); err != nil || h.EventID == "" || h.Type == "" {
				t.Fatalf("message %q is not an event: %v", m.Body, err)
			}
			found = found || strings.Contains(string(m.Body), a.ID)
		}
	}
	if !found {
		t.Fatalf("no event about account %s reached the SQS queue", a.ID)
	}
	name := url[strings.LastIndex(url, "/")+1:]
	_, _, metrics := getAs(t, b.url+"/actuator/prometheus", "")
	if !strings.Contains(metrics, `bank_queue_messages{queue="`+name+`",state="in_flight"}`) {
		t.Errorf("/actuator/prometheus has no series of queue %s", name)
	}
}

// TestTableQueueConsumedInPlace: the queue serve all hands its notification
// consumer, the table queue with its metrics, can consume in place.
func TestTableQueueConsumedInPlace(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	q, err := openQueue(context.Background(), &Config{QueueURL: "db"}, db, slog.New(slog.DiscardHandler), queue.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := q.Queue.(queue.Taker); !ok {
		t.Fatalf("serve all's table queue %T cannot consume in place", q.Queue)
	}
}

// sqsWithDeadLetters starts a local SQS server with a queue whose messages
// go to its dead-letter queue after one receive, points the AWS SDK at it
// as in production (AWS_ENDPOINT_URL_SQS), and leaves two messages in the
// dead-letter queue. It returns the server's endpoint, the queue's URL and
// the queue.
func sqsWithDeadLetters(t *testing.T) (string, string, *queue.SQS) {
	t.Helper()
	endpoint := sqsserver.Start(t)
	client := sqsserver.Client(endpoint)
	url := sqsserver.NewQueues(t, client, 30*time.Second, 1)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_SQS": endpoint, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none"} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	q, err := queue.NewSQS(ctx, client, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []byte(`{"event_id":"a"}`), []byte(`{"event_id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	// Both fail their one receive and go to the dead-letter queue.
	for got := 0; got < 2; {
		ms, err := q.Receive(ctx, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if err := q.ChangeVisibility(ctx, m.Receipt, 0); err != nil {
				t.Fatal(err)
			}
		}
		got += len(ms)
	}
	return endpoint, url, q
}
