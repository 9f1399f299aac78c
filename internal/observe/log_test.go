package observe_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/observe"
)

func TestNewLoggerLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  []string // the messages written, of debug, info, warn, error
	}{
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"info", []string{"info", "warn", "error"}},
		{"", []string{"info", "warn", "error"}},
		{"WARN", []string{"warn", "error"}},
		{"warning", []string{"warn", "error"}},
		{"error", []string{"error"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := observe.NewLogger(&buf, tt.level)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			var got []string
			sc := bufio.NewScanner(&buf)
			for sc.Scan() {
				var line struct {
					Msg string `json:"msg"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("not a JSON line: %s: %v", sc.Bytes(), err)
				}
				got = append(got, line.Msg)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("messages (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNewLoggerUnknownLevel(t *testing.T) {
	t.Parallel()
	_, err := observe.NewLogger(&bytes.Buffer{}, "verbose")
	if err == nil {
		t.Fatal("got no error for level verbose")
	}
	if !strings.Contains(err.Error(), `"verbose"`) {
		t.Errorf("error %q does not name the level", err)
	}
}

func TestNewLoggerMasksSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := observe.NewLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.With("Authorization", "Bearer abc.def").Info("login", "user", "alice", "password", "hunter2",
		"req", map[string]string{"x": "y"})
	out := buf.String()
	for _, secret := range []string{"hunter2", "abc.def"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line holds %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, `"user":"alice"`) || strings.Count(out, "[REDACTED]") != 2 {
		t.Errorf("log line: %s", out)
	}
}
