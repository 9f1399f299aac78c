package observe

import (
	"sync"
	"testing"
	"time"
)

// The _max gauge follows Micrometer's window: a value is visible for at least
// two thirds of two minutes and at most two minutes.
func TestWindowMax(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	type event struct {
		at     time.Duration // since t0
		record float64       // recorded if > 0, else polled
		want   float64       // when polling
	}
	tests := []struct {
		name   string
		events []event
	}{
		{"largest wins", []event{{0, 0.5, 0}, {10 * time.Second, 0.2, 0}, {20 * time.Second, 0, 0.5}}},
		{"visible for the whole window", []event{{0, 0.5, 0}, {119 * time.Second, 0, 0.5}}},
		{"gone after the window", []event{{0, 0.5, 0}, {121 * time.Second, 0, 0}}},
		{"gone after a long idle", []event{{0, 0.5, 0}, {time.Hour, 0, 0}}},
		{"a later, smaller value outlives it", []event{
			{0, 0.5, 0}, {100 * time.Second, 0.3, 0}, {110 * time.Second, 0, 0.5}, {121 * time.Second, 0, 0.3},
			{199 * time.Second, 0, 0.3}, {201 * time.Second, 0, 0}}},
		{"polls rotate too", []event{
			{0, 0.5, 0}, {41 * time.Second, 0, 0.5}, {81 * time.Second, 0, 0.5}, {121 * time.Second, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindowMax(t0)
			for _, e := range tt.events {
				now := t0.Add(e.at)
				if e.record > 0 {
					w.record(e.record, now)
					continue
				}
				if got := w.poll(now); got != e.want {
					t.Errorf("at %s: got %v, want %v", e.at, got, e.want)
				}
			}
		})
	}
}

func TestWindowMaxConcurrent(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	w := newWindowMax(t0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				w.record(float64(g*1000+i), now)
				w.poll(now)
			}
		}()
	}
	wg.Wait()
	if got, want := w.poll(t0.Add(time.Second)), float64(7*1000+999); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
