package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
)

func TestFake(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	late, early := f.After(2*time.Second), f.After(time.Second)
	if f.Waiters() != 2 {
		t.Fatalf("Waiters = %d, want 2", f.Waiters())
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-early:
		t.Fatal("After(1s) fired 999ms in")
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-early; !got.Equal(start.Add(time.Second)) {
		t.Errorf("After(1s) received %v, want %v", got, start.Add(time.Second))
	}
	select {
	case <-late:
		t.Fatal("After(2s) fired 1s in")
	default:
	}
	f.Advance(time.Hour)
	<-late
	if f.Waiters() != 0 || !f.Now().Equal(start.Add(time.Hour+time.Second)) {
		t.Errorf("after the moves: %d waiters, now %v", f.Waiters(), f.Now())
	}
	select {
	case <-f.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}

func TestBlockUntilAndSleep(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(ctx, f, time.Minute) }()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Errorf("Sleep = %v after the fake moved past it", err)
	}

	stop, stopNow := context.WithCancel(context.Background())
	stopNow()
	if err := clock.Sleep(stop, f, time.Minute); err != context.Canceled {
		t.Errorf("Sleep on an ended context = %v, want context.Canceled", err)
	}
	if got := clock.Since(f, time.Unix(0, 0)); got != time.Minute {
		t.Errorf("Since = %v, want 1m", got)
	}
}
