// Package poll waits in tests for a condition instead of sleeping for a
// fixed time: a test moves on as soon as what it waits for has happened, and
// the deadline only bounds a hang, so a busy machine makes a test slower,
// never wrong.
package poll

import (
	"testing"
	"time"
)

// Until calls cond until it returns true, backing off from 1 ms to 50 ms
// between calls, and fails the test naming what when within passes first.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(within, cond) {
		t.Fatalf("still waiting after %s for %s", within, what)
	}
}

// Wait calls cond until it returns true or within passes, backing off from
// 1 ms to 50 ms between calls, and reports whether cond became true.
func Wait(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}
