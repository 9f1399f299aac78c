package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
)

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	var fail bool
	stats := func(ctx context.Context) ([]observe.QueueStat, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the queues are asked without a deadline")
		}
		if fail {
			return nil, errors.New("queue unreachable")
		}
		return []observe.QueueStat{
			{Queue: "notifications", Visible: 1200, InFlight: 7, Delayed: 2, DeadLetter: 3, OldestAge: 90 * time.Second},
		}, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(observe.NewQueueCollector(stats, time.Second))
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bank_queue_messages", map[string]string{"queue": "notifications", "state": "visible"}, 1200},
		{"bank_queue_messages", map[string]string{"queue": "notifications", "state": "in_flight"}, 7},
		{"bank_queue_messages", map[string]string{"queue": "notifications", "state": "delayed"}, 2},
		{"bank_queue_messages", map[string]string{"queue": "notifications", "state": "dead_letter"}, 3},
		{"bank_queue_oldest_message_age_seconds", map[string]string{"queue": "notifications"}, 90},
		{"bank_queue_stats_up", nil, 1},
	}
	for _, tt := range tests {
		if got, ok := value(t, reg, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	fail = true
	if _, ok := value(t, reg, "bank_queue_messages", nil); ok {
		t.Error("queue series exported while the queues do not answer")
	}
	if got, _ := value(t, reg, "bank_queue_stats_up", nil); got != 0 {
		t.Errorf("bank_queue_stats_up = %v while the queues do not answer, want 0", got)
	}
}
