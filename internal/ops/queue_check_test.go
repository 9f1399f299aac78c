package ops

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
)

func TestCheckQueue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		stats queue.Stats
		err   error
		want  Level
	}{
		{"quiet", queue.Stats{Main: queue.Depth{Visible: 12, OldestAge: time.Second}}, nil, OK},
		{"backlog", queue.Stats{Main: queue.Depth{Visible: 1001}}, nil, Warn},
		{"big backlog", queue.Stats{Main: queue.Depth{Visible: 10001}}, nil, Crit},
		{"dead letters", queue.Stats{DLQ: queue.Depth{Visible: 1}}, nil, Warn},
		{"old message", queue.Stats{Main: queue.Depth{Visible: 1, OldestAge: 11 * time.Minute}}, nil, Warn},
		{"unreachable", queue.Stats{}, errors.New("no route"), Unknown},
	} {
		d := Diagnosis{Queue: func(context.Context) (queue.Stats, error) { return tt.stats, tt.err }}
		if got := checkQueue(context.Background(), d); got.Level != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, got.Level, got.Detail, tt.want)
		}
	}
	if got := checkQueue(context.Background(), Diagnosis{QueueMissing: "no database"}); got.Level != Unknown || got.Detail != "no database" {
		t.Errorf("no queue: %+v", got)
	}
}
