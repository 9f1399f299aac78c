package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// cheapParams hash in well under a millisecond; DefaultConfig's are tested on
// their own.
var cheapParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLength: 16, KeyLength: 32}

func testConfig() Config {
	c := DefaultConfig()
	c.Password = cheapParams
	c.LoginBurst = 1000
	c.RegisterBurst = 1000
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// writeFile writes content to name in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	testKey1 = "0123456789abcdef0123456789abcdef-key-one"
	testKey2 = "fedcba9876543210fedcba9876543210-key-two"
)

func newTestKeyring(t testing.TB, secret string) *Keyring {
	t.Helper()
	k, err := NewKeyring(KeySource{Secret: secret}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// httptestRequest is a GET carrying token as its bearer token.
func httptestRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
