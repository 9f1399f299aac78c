package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// kidOf returns the key id in an access token's header, "" if it has none.
func kidOf(token string) string {
	head, _, _ := strings.Cut(token, ".")
	b, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Kid string }
	_ = json.Unmarshal(b, &h)
	return h.Kid
}

func keyID(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])[:16]
}

// TestJWTRotateUnderTraffic runs two processes on one database and key files,
// logs in on one and calls the other with the token, over and over, while
// "bank jwt rotate" replaces the key: no request fails, both processes end up
// signing with the new key, and a token of the old key still works.
func TestJWTRotateUnderTraffic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile, prevFile := filepath.Join(dir, "jwt-secret"), filepath.Join(dir, "jwt-previous-secret")
	oldKey := randomHex(32)
	for path, key := range map[string]string{keyFile: oldKey, prevFile: randomHex(32)} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"BANK_DATABASE_URL":             storetest.URL(t, store.SQLite),
		"BANK_HTTP_ADDR":                "127.0.0.1:0",
		"BANK_DATA_DIR":                 dir,
		"BANK_JWT_SECRET_FILE":          keyFile,
		"BANK_JWT_PREVIOUS_SECRET_FILE": prevFile,
		"BANK_JWT_RELOAD_INTERVAL":      "50ms",
		"BANK_JWT_SIGNING_DELAY":        "1s", // the rotation's own settle is longer
		"BANK_LOG_LEVEL":                "info",
		"BANK_RATE_LIMIT":               "0", // four clients as fast as they go
	}
	if out, err := runArgs(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	urlA, _ := startServe(t, "all", env)
	urlB, _ := startServe(t, "all", env)
	hc := checkedHTTP(t, 30*time.Second, nil)
	procs := []*client.Client{client.New(urlA, hc), client.New(urlB, hc)}
	ctx := context.Background()
	email, password := "rota-"+randomHex(4)+"@example.test", "a long password"
	if _, err := procs[0].Register(ctx, email, password, "Rota"); err != nil {
		t.Fatal(err)
	}
	before, err := procs[0].Login(ctx, email, password)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		failures []string
		requests int
		seen     = map[string]map[int]bool{} // kid → processes that signed with it
	)
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	// Each client refreshes its token on one process and uses it on the
	// other, alternately: a token signed with a key the other process does
	// not accept yet fails the request.
	for c := 0; c < 4; c++ {
		tok, err := procs[c%2].Login(ctx, email, password)
		if err != nil {
			t.Fatal(err)
		}
		traffic.Go(func() {
			for i := c; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := i%2, 1-i%2
				var next client.Tokens
				_, err := procs[from].Do(ctx, http.MethodPost, "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, &next)
				if err == nil {
					tok = &next
					_, err = procs[to].WithToken(tok.AccessToken).Me(ctx)
				}
				mu.Lock()
				requests += 2
				if err != nil {
					failures = append(failures, fmt.Sprintf("refresh on %d, me on %d: %v", from, to, err))
				} else {
					kid := kidOf(tok.AccessToken)
					if seen[kid] == nil {
						seen[kid] = map[int]bool{}
					}
					seen[kid][from] = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	out, err := runArgs(t, env, "jwt", "rotate", "--settle", "30s", "--url", urlA, "--url", urlB)
	if err != nil {
		t.Fatalf("jwt rotate: %v\n%s", err, out)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kid := keyID(string(key))
	poll.Until(t, 30*time.Second, "a token signed with the new key "+kid+" by both processes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen[kid]) == 2
	})
	close(stop)
	traffic.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the rotation, want 0; the first: %s", len(failures), requests, failures[0])
	}
	if kid == keyID(oldKey) {
		t.Fatal("the key did not change")
	}
	prev, err := os.ReadFile(prevFile)
	if err != nil || strings.TrimSpace(string(prev)) != oldKey {
		t.Errorf("the previous-key file does not hold the old key (%v)", err)
	}
	for i, p := range procs {
		if _, err := p.WithToken(before.AccessToken).Me(ctx); err != nil {
			t.Errorf("process %d refuses a token of the old key after the rotation: %v", i, err)
		}
	}
	t.Logf("%d requests during the rotation, %d failed", requests, len(failures))
}

// TestJWTRotateChecksTheServices: a rotation must not log anyone out. Against
// a serve all that reads no previous-key file, "bank jwt rotate --url" finds
// that it never accepts the staged key, withdraws it and changes nothing;
// without --url it refuses to guess. Against serve all with its defaults,
// the default files of both match and the rotation goes through.
func TestJWTRotateChecksTheServices(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "jwt-secret")
	oldKey := randomHex(32)
	if err := os.WriteFile(keyFile, []byte(oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BANK_DATABASE_URL":        storetest.URL(t, store.SQLite),
		"BANK_HTTP_ADDR":           "127.0.0.1:0",
		"BANK_DATA_DIR":            dir,
		"BANK_JWT_SECRET_FILE":     keyFile, // and no previous-key file
		"BANK_JWT_RELOAD_INTERVAL": "50ms",
		"BANK_LOG_LEVEL":           "info",
	}
	if out, err := runArgs(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	url, _ := startServe(t, "all", env)
	prevFile := filepath.Join(dir, "elsewhere-previous")
	_, err := runArgs(t, env, "jwt", "rotate", "--previous-secret-file", prevFile)
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--url") {
		t.Errorf("rotate without --url: %v (exit %d), want a usage error asking for --url", err, exitCode(err))
	}
	out, err := runArgs(t, env, "jwt", "rotate", "--previous-secret-file", prevFile, "--settle", "1s", "--url", url)
	if err == nil || !strings.Contains(err.Error(), "nothing was rotated") || !strings.Contains(err.Error(), url) {
		t.Fatalf("rotate against a service that reads no previous key: %v\n%s; want it refused", err, out)
	}
	if key, _ := os.ReadFile(keyFile); strings.TrimSpace(string(key)) != oldKey {
		t.Error("the current key changed though the rotation was refused")
	}
	if _, err := os.Stat(prevFile); !os.IsNotExist(err) {
		t.Errorf("the staged key was left in %s: %v", prevFile, err)
	}

	// serve all with its defaults: a generated key, and the previous-key
	// file that rotate writes by default.
	home := t.TempDir()
	env = map[string]string{"BANK_DATA_DIR": home, "BANK_HTTP_ADDR": "127.0.0.1:0", "BANK_JWT_RELOAD_INTERVAL": "50ms",
		"BANK_JWT_SIGNING_DELAY": "100ms", "BANK_LOG_LEVEL": "info"}
	url, _ = startServe(t, "all", env)
	c := client.New(url, checkedHTTP(t, 30*time.Second, nil))
	ctx := context.Background()
	if _, err := c.Register(ctx, "dora@example.test", "a long password", "Dora"); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Login(ctx, "dora@example.test", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runArgs(t, env, "jwt", "rotate", "--settle", "30s", "--url", url); err != nil {
		t.Fatalf("rotate with the defaults: %v\n%s", err, out)
	}
	key, _ := os.ReadFile(filepath.Join(home, "jwt-secret"))
	poll.Until(t, 30*time.Second, "serve all to sign with the new key", func() bool {
		fresh, err := c.Login(ctx, "dora@example.test", "a long password")
		return err == nil && kidOf(fresh.AccessToken) == keyID(string(key))
	})
	if _, err := c.WithToken(tok.AccessToken).Me(ctx); err != nil {
		t.Errorf("a token of the old key after the rotation: %v; want it still accepted", err)
	}
}
