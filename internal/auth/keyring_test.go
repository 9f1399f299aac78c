package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/poll"
)

func kidOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])[:16]
}

func TestNewKeyringRefusesBadSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "good", testKey1)
	short := writeFile(t, dir, "short", strings.Repeat("k", MinKeyLength-1)+"\n")
	blank := writeFile(t, dir, "blank", "\n\n")
	tests := []struct {
		name    string
		src     KeySource
		wantErr string
	}{
		{"nothing", KeySource{}, "no key"},
		{"file and value", KeySource{SecretFile: good, Secret: testKey2}, "not both"},
		{"short value", KeySource{Secret: strings.Repeat("k", MinKeyLength-1)}, "at least 32 bytes"},
		{"short value once trimmed", KeySource{Secret: "  " + strings.Repeat("k", MinKeyLength-1) + "\n"}, "at least 32 bytes"},
		{"short file", KeySource{SecretFile: short}, "at least 32 bytes"},
		{"blank file", KeySource{SecretFile: blank}, "at least 32 bytes"},
		{"missing file", KeySource{SecretFile: dir + "/missing"}, "no such file"},
		{"missing previous file", KeySource{SecretFile: good, PreviousSecretFile: dir + "/missing"}, "previous jwt key"},
		{"short previous file", KeySource{SecretFile: good, PreviousSecretFile: short}, "at least 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.src, discardLogger())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKeyring(%+v) = %v, want an error containing %q", tt.src, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), strings.Repeat("k", 16)) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

func TestNewKeyringKeyIDs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		src  KeySource
		want []string
	}{
		{"value", KeySource{Secret: testKey1}, []string{kidOf(testKey1)}},
		{"file, final newline trimmed", KeySource{SecretFile: writeFile(t, dir, "cur", testKey1+"\n")}, []string{kidOf(testKey1)}},
		{"file and previous file", KeySource{SecretFile: writeFile(t, dir, "cur2", testKey2),
			PreviousSecretFile: writeFile(t, dir, "prev", testKey1)}, []string{kidOf(testKey2), kidOf(testKey1)}},
		{"value and previous file", KeySource{Secret: testKey2,
			PreviousSecretFile: writeFile(t, dir, "prev2", testKey1)}, []string{kidOf(testKey2), kidOf(testKey1)}},
		{"previous equal to current", KeySource{Secret: testKey1,
			PreviousSecretFile: writeFile(t, dir, "prev3", testKey1)}, []string{kidOf(testKey1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.src, discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			got := k.KeyIDs()
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("KeyIDs() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, b := GenerateSecret(), GenerateSecret()
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("GenerateSecret() = %q, want 64 hex digits", a)
	}
	if a == b {
		t.Errorf("GenerateSecret() returned %q twice", a)
	}
	if _, err := NewKeyring(KeySource{Secret: a}, discardLogger()); err != nil {
		t.Errorf("NewKeyring refuses a generated secret: %v", err)
	}
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestReloadPicksUpChangedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "key", testKey1)
	var logs logBuffer
	k, err := NewKeyring(KeySource{SecretFile: file}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	v := NewVerifier(k, clock.Now)
	p := Principal{UserID: "u1", Role: RoleCustomer}
	old, err := k.IssueAccessToken(p, clock.Now())
	if err != nil {
		t.Fatal(err)
	}

	// An unchanged file changes nothing.
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if logs.String() != "" {
		t.Errorf("Reload of an unchanged file logged %q", logs.String())
	}

	writeFile(t, dir, "key", testKey2+"\n")
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := k.KeyIDs(), []string{kidOf(testKey2)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("KeyIDs() after reload = %v, want %v", got, want)
	}
	fresh, err := k.IssueAccessToken(p, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(fresh); err != nil {
		t.Errorf("token signed with the new key refused: %v", err)
	}
	// Without a previous-key file, the replaced key is no longer accepted.
	if _, err := v.Verify(old); err == nil {
		t.Errorf("token signed with the replaced key accepted")
	}
	log := logs.String()
	if !strings.Contains(log, kidOf(testKey2)) || !strings.Contains(log, "jwt signing key changed") {
		t.Errorf("log %q does not report the new key id", log)
	}
	if strings.Contains(log, testKey2) || strings.Contains(log, testKey1) {
		t.Errorf("log %q shows a key", log)
	}

	// A half-written or bad file is refused and the key in use kept.
	writeFile(t, dir, "key", "short")
	if err := k.Reload(); err == nil {
		t.Errorf("Reload of a short key = nil, want an error")
	}
	if _, err := v.Verify(fresh); err != nil {
		t.Errorf("after a failed reload, the key in use was dropped: %v", err)
	}
}

func TestPreviousKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := newFakeClock()
	p := Principal{UserID: "u1", Role: RoleOperator}
	before := newTestKeyring(t, testKey1)
	oldToken, err := before.IssueAccessToken(p, clock.Now())
	if err != nil {
		t.Fatal(err)
	}

	// After the rotation: the new key signs, the old one is still accepted.
	cur := writeFile(t, dir, "current", testKey2)
	prev := writeFile(t, dir, "previous", testKey1)
	rotated, err := NewKeyring(KeySource{SecretFile: cur, PreviousSecretFile: prev}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	// One verifier throughout: a token it has verified once must still be
	// refused once its key is gone.
	v := NewVerifier(rotated, clock.Now)
	got, err := v.Verify(oldToken)
	if err != nil {
		t.Fatalf("token of the previous key refused while it is configured: %v", err)
	}
	if got != p {
		t.Errorf("Verify = %+v, want %+v", got, p)
	}
	newToken, err := rotated.IssueAccessToken(p, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(before, clock.Now).Verify(newToken); err == nil {
		t.Errorf("the new key did not sign: a keyring with only the old key accepted its token")
	}

	// Rebuilt without the previous key: its tokens are refused.
	after, err := NewKeyring(KeySource{SecretFile: cur}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(after, clock.Now).Verify(oldToken); err == nil {
		t.Errorf("token of the previous key accepted after it was removed")
	}
	if _, err := NewVerifier(after, clock.Now).Verify(newToken); err != nil {
		t.Errorf("token of the current key refused: %v", err)
	}

	// Reloaded with another previous key: the old one is dropped too.
	writeFile(t, dir, "previous", testKey2+"-other")
	if err := rotated.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(oldToken); err == nil {
		t.Errorf("token of a key no file holds any more accepted after Reload")
	}
}

func TestWatchReloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "key", testKey1)
	var logs logBuffer
	k, err := NewKeyring(KeySource{SecretFile: file}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	k.clock = clk
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		k.Watch(ctx, time.Minute)
		close(done)
	}()
	writeFile(t, dir, "key", testKey2)
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if k.KeyIDs()[0] == kidOf(testKey2) {
		t.Fatal("Watch reloaded before its interval")
	}
	clk.Advance(time.Minute)
	poll.Until(t, 30*time.Second, "Watch to pick up the new key", func() bool { return k.KeyIDs()[0] == kidOf(testKey2) })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
	if log := logs.String(); !strings.Contains(log, kidOf(testKey2)) || strings.Contains(log, testKey2) {
		t.Errorf("log %q: want the new key id and never the key", log)
	}
}

// replica is one process's view of the jwt-secret volume: its own key files,
// which its kubelet updates when it gets to it.
type replica struct {
	t         *testing.T
	cur, prev string
	keys      *Keyring
	verify    *Verifier
	clock     *time.Time
}

func newReplica(t *testing.T, clock *time.Time, cur, prev string, curAt, prevAt time.Time) *replica {
	t.Helper()
	dir := t.TempDir()
	r := &replica{t: t, cur: dir + "/key", prev: dir + "/previous", clock: clock}
	r.write(cur, prev, curAt, prevAt)
	k, err := NewKeyring(KeySource{SecretFile: r.cur, PreviousSecretFile: r.prev, SigningDelay: 2 * time.Minute},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	k.now = func() time.Time { return *clock }
	k.since = *clock
	r.keys, r.verify = k, NewVerifier(k, func() time.Time { return *clock })
	return r
}

// write puts the keys in the replica's files with the times a kubelet would
// have written them, and lets the replica read them.
func (r *replica) write(cur, prev string, curAt, prevAt time.Time) {
	r.t.Helper()
	for _, f := range []struct {
		path, key string
		at        time.Time
	}{{r.cur, cur, curAt}, {r.prev, prev, prevAt}} {
		if err := os.WriteFile(f.path, []byte(f.key), 0o600); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Chtimes(f.path, f.at, f.at); err != nil {
			r.t.Fatal(err)
		}
	}
	if r.keys != nil {
		if err := r.keys.Reload(); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestRotationWithoutRefusals rotates the jwt-secret as runbook 6.2 does,
// after copying the current key into the previous one, with two replicas
// whose volumes are updated 90 seconds apart, and a third replica started
// by the rollout in between: every token any of them signs at any moment is
// accepted by every other.
func TestRotationWithoutRefusals(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := testKey1, testKey2, strings.Repeat("3", 64)
	start := time.Now().Add(-time.Hour)
	clock := start
	a := newReplica(t, &clock, k2, k1, start, start.Add(-time.Hour))
	b := newReplica(t, &clock, k2, k1, start, start.Add(-time.Hour))
	clock = clock.Add(10 * time.Minute) // long after start: both sign with k2
	var c *replica
	check := func(when string) {
		t.Helper()
		rs := []*replica{a, b}
		if c != nil {
			rs = append(rs, c)
		}
		for i, from := range rs {
			tok, err := from.keys.IssueAccessToken(Principal{UserID: "u", Role: RoleCustomer}, clock)
			if err != nil {
				t.Fatal(err)
			}
			for j, to := range rs {
				if _, err := to.verify.Verify(tok); err != nil {
					t.Errorf("%s: a token of replica %d refused by replica %d: %v", when, i, j, err)
				}
			}
		}
	}
	check("before the rotation")

	// The copy: the previous key becomes k2 everywhere.
	copied := clock
	a.write(k2, k2, start, copied)
	b.write(k2, k2, start, copied)
	clock = clock.Add(2 * time.Minute)
	check("after the copy")

	// The new key reaches a's volume first; the rollout starts c at once;
	// b's volume follows 90 s later.
	applied := clock
	a.write(k3, k2, applied, copied)
	c = newReplica(t, &clock, k3, k2, applied, copied)
	check("a and c have k3, b not yet")
	clock = clock.Add(90 * time.Second)
	check("90 s on, before b reads it")
	b.write(k3, k2, applied.Add(90*time.Second), copied)
	check("all have k3")
	clock = clock.Add(3 * time.Minute)
	check("after the signing delay")
	if got := a.keys.signer().id; got != kidOf(k3) {
		t.Errorf("after the delay a signs with %s, want the new key %s", got, kidOf(k3))
	}
}
