package notification

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWebhookRetries: a 5xx, 408 or 429 is tried again within the budget;
// another 4xx or a redirect is not; every attempt is signed afresh and
// carries the same delivery id.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		answers  []int
		attempts int32
		ok       bool
	}{
		{"succeeds at once", []int{204}, 1, true},
		{"5xx then success", []int{500, 503, 200}, 3, true},
		{"429 and 408 are retried", []int{429, 408, 202}, 3, true},
		{"keeps failing", []int{500, 500, 500, 500}, 3, false},
		{"4xx is final", []int{400, 200}, 1, false},
		{"410 is final", []int{410, 200}, 1, false},
		{"redirect is not followed", []int{302, 200}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int32
			ids := map[string]bool{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := n.Add(1) - 1
				ids[r.Header.Get("X-Bank-Delivery-Id")] = true
				if r.Header.Get("X-Bank-Signature") == "" || r.Header.Get("X-Bank-Timestamp") == "" {
					t.Error("unsigned attempt")
				}
				if c.answers[i] == 302 {
					w.Header().Set("Location", "http://169.254.169.254/")
				}
				w.WriteHeader(c.answers[i])
			}))
			defer srv.Close()
			cfg := testConfig("")
			w := newWebhookClient(cfg)
			err := w.post(context.Background(), srv.URL+"/?token=receivers-own", "secret", "delivery-1", []byte(`{}`))
			if (err == nil) != c.ok || n.Load() != c.attempts {
				t.Errorf("err %v after %d attempts; want ok=%v after %d", err, n.Load(), c.ok, c.attempts)
			}
			if len(ids) != 1 || !ids["delivery-1"] {
				t.Errorf("delivery ids %v, want delivery-1 on every attempt", ids)
			}
		})
	}
}

// TestWebhookBudget: a hanging endpoint costs at most attempts × timeout
// plus the backoff, and the error does not repeat the URL's query.
func TestWebhookBudget(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := testConfig("")
	cfg.SendTimeout, cfg.WebhookAttempts, cfg.WebhookBackoff = 100*time.Millisecond, 3, 10*time.Millisecond
	start := time.Now()
	err := newWebhookClient(cfg).post(context.Background(), srv.URL+"/?token=receivers-own", "s", "d", []byte(`{}`))
	took := time.Since(start)
	if err == nil || took > cfg.budget()+time.Second {
		t.Errorf("err %v after %s; want an error within the budget %s", err, took, cfg.budget())
	}
	if err != nil && strings.Contains(err.Error(), "receivers-own") {
		t.Errorf("error %q repeats the URL's query", err)
	}
	// A message's deadline ends the retries early.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = newWebhookClient(cfg).post(ctx, srv.URL, "s", "d", []byte(`{}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with a short deadline: %v, want DeadlineExceeded", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if b := ok.budget(); b >= 30*time.Second || ok.MessageTimeout >= 30*time.Second {
		t.Errorf("webhook budget %s and message timeout %s must stay under SQS's default visibility timeout of 30s", b, ok.MessageTimeout)
	}
	for name, change := range map[string]func(c *Config){
		"smtp scheme":   func(c *Config) { c.SMTPURL = "http://mail:25" },
		"smtp port":     func(c *Config) { c.SMTPURL = "smtp://mail" },
		"sms scheme":    func(c *Config) { c.SMSURL = "file:///x" },
		"sms no host":   func(c *Config) { c.SMSURL = "https:///send" },
		"sender":        func(c *Config) { c.From = "x" },
		"sender header": func(c *Config) { c.From = "a@b.c\r\nBcc: d@e.f" },
		"workers":       func(c *Config) { c.Workers = 0 },
		"batch":         func(c *Config) { c.Batch = 1001 },
		"wait":          func(c *Config) { c.Wait = time.Minute },
		"lease":         func(c *Config) { c.Lease = time.Second },
		"attempts":      func(c *Config) { c.WebhookAttempts = 0 },
	} {
		c := DefaultConfig()
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
}
