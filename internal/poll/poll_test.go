package poll_test

import (
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/poll"
)

func TestWait(t *testing.T) {
	t.Parallel()
	calls := 0
	if !poll.Wait(time.Minute, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Errorf("Wait returned after %d calls, want true on the third", calls)
	}
	start := time.Now()
	if poll.Wait(20*time.Millisecond, func() bool { return false }) {
		t.Error("Wait reported true for a condition that never held")
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("Wait gave up after %s, before its 20ms", took)
	}
}
