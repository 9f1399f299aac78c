package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Status is the state of a health component, in Spring Boot's words.
type Status string

// The statuses a component or a whole report can have.
const (
	StatusUp   Status = "UP"
	StatusDown Status = "DOWN"
)

// DefaultCheckTimeout bounds each health check when NewHealth is given none:
// long enough for a database round trip under load, short enough to answer
// within a Kubernetes probe's patience.
const DefaultCheckTimeout = 2 * time.Second

// The names of the built-in components, as Spring Boot calls them.
const (
	livenessState  = "livenessState"
	readinessState = "readinessState"
)

// Component is one part of a health report.
type Component struct {
	Status  Status            `json:"status"`
	Details map[string]string `json:"details,omitempty"`
}

// Report is a health answer: UP only if every component is UP.
type Report struct {
	Status     Status               `json:"status"`
	Components map[string]Component `json:"components,omitempty"`
	Groups     []string             `json:"groups,omitempty"` // the health groups, at the root only
}

// Health holds a service's health checks and its readiness. It is safe for
// concurrent use.
type Health struct {
	// Log, when set before the first check, gets a line each time a check
	// goes down (with its error) or comes back up: health answers show the
	// status only.
	Log *slog.Logger

	timeout time.Duration
	ready   atomic.Bool

	mu     sync.RWMutex
	checks []namedCheck
}

type namedCheck struct {
	name     string
	check    func(context.Context) error
	down     *atomic.Bool // the check's last state, for logging its changes
	notReady bool         // reported by /actuator/health, left out of readiness
}

// NewHealth returns a Health with no checks that is not ready: a service calls
// SetReady(true) once it can serve, so Kubernetes sends it no traffic before.
// Each check gets timeout to answer; zero means DefaultCheckTimeout.
func NewHealth(timeout time.Duration) *Health {
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	return &Health{timeout: timeout}
}

// AddCheck adds the component name, UP when check returns nil. A check whose
// name is already taken replaces the earlier one. Checks run concurrently,
// each with its own deadline; one that ignores its context is reported DOWN
// at the deadline all the same.
func (h *Health) AddCheck(name string, check func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.checks, func(c namedCheck) bool { return c.name == name })
	if i >= 0 {
		h.checks[i].check = check
		return
	}
	h.checks = append(h.checks, namedCheck{name, check, new(atomic.Bool), false})
}

// AddStatusCheck adds the component name to /actuator/health only, not to
// readiness: a dependency whose outage the service rides out (the queue,
// behind the outbox) must not take every pod out of its Service.
func (h *Health) AddStatusCheck(name string, check func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = slices.DeleteFunc(h.checks, func(c namedCheck) bool { return c.name == name })
	h.checks = append(h.checks, namedCheck{name, check, new(atomic.Bool), true})
}

// SetReady sets the readiness state. A service sets it false first thing on
// shutdown, so that the readiness probe fails, and Kubernetes stops routing
// to it, before it stops serving.
func (h *Health) SetReady(ready bool) { h.ready.Store(ready) }

// Ready reports the readiness state last set.
func (h *Health) Ready() bool { return h.ready.Load() }

// Check runs every check and reports them with the liveness and readiness
// states: the answer of /actuator/health. Like Spring Boot's on Kubernetes,
// it names the probe groups at its root.
func (h *Health) Check(ctx context.Context) Report {
	cs := h.run(ctx, false)
	cs[livenessState] = Component{Status: StatusUp}
	cs[readinessState] = stateComponent(h.Ready())
	r := report(cs)
	r.Groups = []string{"liveness", "readiness"}
	return r
}

// Liveness reports the liveness state, UP while the process can answer at
// all. It runs no checks: a database outage must not make Kubernetes restart
// every pod.
func (h *Health) Liveness() Report {
	return report(map[string]Component{livenessState: {Status: StatusUp}})
}

// Readiness reports the readiness state and the checks. When the service is
// not ready it answers DOWN at once, without running the checks, so a
// shutting-down pod fails its probe immediately.
func (h *Health) Readiness(ctx context.Context) Report {
	if !h.Ready() {
		return report(map[string]Component{readinessState: stateComponent(false)})
	}
	cs := h.run(ctx, true)
	cs[readinessState] = stateComponent(true)
	return report(cs)
}

func stateComponent(up bool) Component {
	if up {
		return Component{Status: StatusUp}
	}
	return Component{Status: StatusDown}
}

func report(cs map[string]Component) Report {
	r := Report{Status: StatusUp, Components: cs}
	for _, c := range cs {
		if c.Status != StatusUp {
			r.Status = StatusDown
		}
	}
	return r
}

// run runs every check (those of readiness only, if readiness is set)
// concurrently and returns their components.
func (h *Health) run(ctx context.Context, readiness bool) map[string]Component {
	h.mu.RLock()
	checks := slices.Clone(h.checks)
	h.mu.RUnlock()
	if readiness {
		checks = slices.DeleteFunc(checks, func(c namedCheck) bool { return c.notReady })
	}
	type result struct {
		name string
		c    Component
	}
	results := make(chan result, len(checks))
	for _, c := range checks {
		go func() {
			comp := h.runOne(ctx, c.check)
			h.logChange(c, comp)
			results <- result{c.name, comp}
		}()
	}
	cs := make(map[string]Component, len(checks)+2)
	for range checks {
		r := <-results
		cs[r.name] = r.c
	}
	return cs
}

func (h *Health) runOne(ctx context.Context, check func(context.Context) error) Component {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	// Buffered, so a check that outlives its deadline can still finish and
	// its goroutine end.
	done := make(chan error, 1)
	go func() {
		defer func() {
			// A bug in one check must not take the process down with it.
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return Component{Status: StatusUp}
	}
	msg := redactSecrets(err.Error())
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		msg = fmt.Sprintf("no answer within %s", h.timeout)
	}
	return Component{Status: StatusDown, Details: map[string]string{"error": msg}}
}

// logChange logs when check c goes down or comes back up.
func (h *Health) logChange(c namedCheck, comp Component) {
	down := comp.Status != StatusUp
	if h.Log == nil || c.down.Swap(down) == down {
		return
	}
	if down {
		h.Log.Warn("health check down", "check", c.name, "err", comp.Details["error"])
	} else {
		h.Log.Info("health check up", "check", c.name)
	}
}

// Public returns r without the components' details: what anyone may see.
// Details (a database's address and user, a driver's message) are for the
// log and for the process itself.
func (r Report) Public() Report {
	p := Report{Status: r.Status, Components: make(map[string]Component, len(r.Components)), Groups: r.Groups}
	for name, c := range r.Components {
		p.Components[name] = Component{Status: c.Status}
	}
	return p
}

// Patterns of secrets an error message may carry: the password of a URL
// (postgres://user:secret@host) and key=value or key: value pairs. They are
// read-only after initialisation.
var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	keyedSecret = regexp.MustCompile(`(?i)\b((?:password|passwd|pwd|secret|token|api_?key)\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)`)
)

// maxDetail bounds an error shown in a health report: a driver's message may
// embed a whole query.
const maxDetail = 300

// redactSecrets masks what looks like a secret in msg, so that an error a
// check returns can be shown in a health report.
func redactSecrets(msg string) string {
	msg = urlPassword.ReplaceAllString(msg, "${1}xxxxx@")
	msg = keyedSecret.ReplaceAllString(msg, "${1}xxxxx")
	if len(msg) > maxDetail {
		n := maxDetail
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + "…"
	}
	return msg
}
