package observe_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/observe"
)

func TestWithService(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base, err := observe.NewLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log := observe.WithService(base, "auth-service")
	log.Info("request", "route", "/api/v1/auth/login")
	log.Info("serving", "service", "auth")
	log.With("request_id", "r1").Info("with attrs")
	log.WithGroup("g").Info("grouped", "k", "v")

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Count(line, `"service"`) != 1 {
			t.Errorf("want the key service once: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "time")
		delete(m, "level")
		got = append(got, m)
	}
	want := []map[string]any{
		{"msg": "request", "route": "/api/v1/auth/login", "service": "auth-service"},
		{"msg": "serving", "service": "auth"},
		{"msg": "with attrs", "request_id": "r1", "service": "auth-service"},
		{"msg": "grouped", "service": "auth-service", "g": map[string]any{"k": "v"}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("log lines (-got +want):\n%s", diff)
	}
}
