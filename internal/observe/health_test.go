package observe_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/observe"
)

func up() observe.Component   { return observe.Component{Status: observe.StatusUp} }
func down() observe.Component { return observe.Component{Status: observe.StatusDown} }
func downWith(msg string) observe.Component {
	return observe.Component{Status: observe.StatusDown, Details: map[string]string{"error": msg}}
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	refused := func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") }
	tests := []struct {
		name       string
		ready      bool
		db         func(context.Context) error
		path       string
		wantStatus int
		want       observe.Report
	}{
		{"health up", true, ok, "/actuator/health", http.StatusOK, observe.Report{Status: "UP",
			Components: map[string]observe.Component{"db": up(), "livenessState": up(), "readinessState": up()}, Groups: []string{"liveness", "readiness"}}},
		{"health with db down", true, refused, "/actuator/health", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
			Components: map[string]observe.Component{"db": downWith("dial tcp 10.0.0.5:5432: connection refused"),
				"livenessState": up(), "readinessState": up()}, Groups: []string{"liveness", "readiness"}}},
		{"health before ready", false, ok, "/actuator/health", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
			Components: map[string]observe.Component{"db": up(), "livenessState": up(), "readinessState": down()}, Groups: []string{"liveness", "readiness"}}},
		{"liveness ignores db and readiness", false, refused, "/actuator/health/liveness", http.StatusOK, observe.Report{Status: "UP",
			Components: map[string]observe.Component{"livenessState": up()}}},
		{"readiness up", true, ok, "/actuator/health/readiness", http.StatusOK, observe.Report{Status: "UP",
			Components: map[string]observe.Component{"db": up(), "readinessState": up()}}},
		{"readiness with db down", true, refused, "/actuator/health/readiness", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
			Components: map[string]observe.Component{"db": downWith("dial tcp 10.0.0.5:5432: connection refused"), "readinessState": up()}}},
		{"readiness before ready", false, ok, "/actuator/health/readiness", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
			Components: map[string]observe.Component{"readinessState": down()}}},
		{"secrets masked", true,
			func(context.Context) error {
				return errors.New(`connect postgres://bank:s3cr3t@db:5432/x?sslmode=disable: password=hunter2 token: "abc def" refused`)
			},
			"/actuator/health", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
				Components: map[string]observe.Component{
					"db":            downWith(`connect postgres://bank:xxxxx@db:5432/x?sslmode=disable: password=xxxxx token: xxxxx refused`),
					"livenessState": up(), "readinessState": up()},
				Groups: []string{"liveness", "readiness"}}},
		{"panicking check", true, func(context.Context) error { panic("boom") },
			"/actuator/health", http.StatusServiceUnavailable, observe.Report{Status: "DOWN",
				Components: map[string]observe.Component{"db": downWith("check panicked: boom"), "livenessState": up(), "readinessState": up()},
				Groups:     []string{"liveness", "readiness"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := observe.NewHealth(0)
			h.AddCheck("db", tt.db)
			h.SetReady(tt.ready)
			rec := get(t, newMux(prometheus.NewRegistry(), h), tt.path)
			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			// Anyone may call the endpoints: they answer statuses only.
			var got observe.Report
			decode(t, rec, &got)
			if diff := cmp.Diff(got, tt.want.Public()); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
			// The details, secrets masked, stay in the process.
			if tt.path == "/actuator/health" {
				if diff := cmp.Diff(h.Check(context.Background()), tt.want); diff != "" {
					t.Errorf("report (-got +want):\n%s", diff)
				}
			}
		})
	}
}

// The exact document of Spring Boot's /actuator/health, which scripts grep.
func TestHealthDocument(t *testing.T) {
	t.Parallel()
	h := observe.NewHealth(0)
	h.AddCheck("db", func(context.Context) error { return nil })
	h.SetReady(true)
	req, _ := http.NewRequest(http.MethodGet, "/actuator/health", nil)
	req.Header.Set("Accept", "application/vnd.spring-boot.actuator.v3+json")
	rec := httptest.NewRecorder()
	newMux(prometheus.NewRegistry(), h).ServeHTTP(rec, req)
	got := rec.Body.String()
	want := `{"status":"UP","components":{"db":{"status":"UP"},"livenessState":{"status":"UP"},"readinessState":{"status":"UP"}},"groups":["liveness","readiness"]}`
	if got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.spring-boot.actuator.v3+json" {
		t.Errorf("Content-Type: got %q, want the actuator's own type when asked for", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", cc)
	}
}

// On SIGTERM the service turns readiness DOWN: the probe must fail at once,
// without waiting on a slow database, while liveness stays UP so Kubernetes
// does not kill the pod mid-drain.
func TestReadinessDownAtOnceOnShutdown(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := observe.NewHealth(time.Minute)
	h.AddCheck("db", func(ctx context.Context) error {
		calls.Add(1)
		<-ctx.Done() // a database that does not answer
		return ctx.Err()
	})
	mux := newMux(prometheus.NewRegistry(), h)
	h.SetReady(true)
	h.SetReady(false)

	start := time.Now()
	rec := get(t, mux, "/actuator/health/readiness")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("readiness took %s while shutting down", elapsed)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readiness: got %d, want 503", rec.Code)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("readiness ran the db check %d times while not ready", n)
	}
	if rec := get(t, mux, "/actuator/health/liveness"); rec.Code != http.StatusOK {
		t.Errorf("liveness: got %d, want 200", rec.Code)
	}
}

// A check that ignores its context is cut off at the deadline.
func TestHealthCheckTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := observe.NewHealth(50 * time.Millisecond)
	h.AddCheck("db", func(context.Context) error { <-release; return nil })
	h.AddCheck("queue", func(context.Context) error { return nil })
	h.SetReady(true)

	answer := make(chan observe.Report, 1)
	go func() { answer <- h.Readiness(context.Background()) }()
	var got observe.Report
	select {
	case got = <-answer:
	case <-time.After(5 * time.Second):
		t.Fatal("readiness did not answer within 5s with a 50ms check timeout")
	}
	want := observe.Report{Status: "DOWN", Components: map[string]observe.Component{
		"db": downWith("no answer within 50ms"), "queue": up(), "readinessState": up()}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("report (-got +want):\n%s", diff)
	}
}

func TestAddCheckReplaces(t *testing.T) {
	t.Parallel()
	h := observe.NewHealth(0)
	h.AddCheck("db", func(context.Context) error { return errors.New("old") })
	h.AddCheck("db", func(context.Context) error { return nil })
	h.SetReady(true)
	if got := h.Check(context.Background()); got.Status != observe.StatusUp {
		t.Errorf("status: got %s, want UP from the replacing check: %+v", got.Status, got)
	}
}

// Checks run concurrently, so a probe waits for the slowest check, not for
// the sum of them: here each check answers only once the other has started.
func TestChecksRunConcurrently(t *testing.T) {
	t.Parallel()
	h := observe.NewHealth(5 * time.Second)
	started := map[string]chan struct{}{"db": make(chan struct{}), "queue": make(chan struct{})}
	for name, other := range map[string]string{"db": "queue", "queue": "db"} {
		h.AddCheck(name, func(ctx context.Context) error {
			close(started[name])
			select {
			case <-started[other]:
				return nil
			case <-ctx.Done():
				return errors.New("ran alone")
			}
		})
	}
	h.SetReady(true)
	if got := h.Readiness(context.Background()); got.Status != observe.StatusUp {
		t.Errorf("readiness: got %+v, want UP", got)
	}
}

// A status check shows in /actuator/health but leaves readiness alone: the
// queue being away must not take the API out of its Service.
func TestStatusCheckLeavesReadiness(t *testing.T) {
	t.Parallel()
	h := observe.NewHealth(0)
	h.AddCheck("db", func(context.Context) error { return nil })
	h.AddStatusCheck("queue", func(context.Context) error { return errors.New("queue unreachable") })
	h.SetReady(true)
	ctx := context.Background()
	if got := h.Check(ctx); got.Status != observe.StatusDown || got.Components["queue"].Status != observe.StatusDown {
		t.Errorf("health: %+v, want DOWN with the queue DOWN", got)
	}
	if got := h.Readiness(ctx); got.Status != observe.StatusUp {
		t.Errorf("readiness: %+v, want UP without the queue", got)
	}
	if _, ok := h.Readiness(ctx).Components["queue"]; ok {
		t.Error("readiness reports the queue")
	}
}
