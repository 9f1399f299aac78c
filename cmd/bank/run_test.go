package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStartupErrors checks that bad configuration stops the program before it
// serves, with a message naming the setting, and that usage mistakes are
// usage errors (exit status 2).
func TestStartupErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	base := map[string]string{"BANK_DATA_DIR": dir, "BANK_DATABASE_URL": "sqlite://" + dir + "/bank.db"}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantInErr string
		usage     bool
	}{
		{"no command", []string{"bank"}, nil, "no command", true},
		{"unknown command", []string{"bank", "launch"}, nil, `unknown command "launch"`, true},
		{"unknown service", []string{"bank", "serve", "ledger"}, nil, `unknown service "ledger"`, true},
		{"unknown flag", []string{"bank", "serve", "all", "--colour"}, nil, "colour", true},
		{"bad log level", []string{"bank", "serve", "all"}, map[string]string{"BANK_LOG_LEVEL": "loud"}, "BANK_LOG_LEVEL", false},
		{"bad database URL", []string{"bank", "serve", "all"}, map[string]string{"BANK_DATABASE_URL": "mysql://x"}, "BANK_DATABASE_URL", false},
		{"bad duration", []string{"bank", "serve", "all"}, map[string]string{"BANK_SHUTDOWN_TIMEOUT": "soon"}, "BANK_SHUTDOWN_TIMEOUT", false},
		{"both secrets", []string{"bank", "serve", "all"}, map[string]string{"BANK_JWT_SECRET": strings.Repeat("k", 40), "BANK_JWT_SECRET_FILE": "/x"}, "BANK_JWT_SECRET", false},
		{"postgres without a key", []string{"bank", "serve", "all"}, map[string]string{"BANK_DATABASE_URL": "postgres://127.0.0.1:1/x"}, "BANK_JWT_SECRET_FILE", false},
		{"database down", []string{"bank", "serve", "all"}, map[string]string{"BANK_DATABASE_URL": "postgres://127.0.0.1:1/x", "BANK_JWT_SECRET": strings.Repeat("k", 40)}, "connect to postgres", false},
		{"port taken", []string{"bank", "serve", "all", "--http-addr", busy.Addr().String()}, nil, "listen on", false},
		{"bad approval rule", []string{"bank", "serve", "all"}, map[string]string{"BANK_APPROVAL_RULES": "deposit>1000000,transfer"}, `BANK_APPROVAL_RULES rule "transfer": unknown action`, false},
		{"bad approval rule flag", []string{"bank", "serve", "all", "--approval-rules", "reversal>5"}, nil, `--approval-rules rule "reversal>5"`, true},
		{"users create without role", []string{"bank", "users", "create", "--email", "a@b.c"}, nil, "--role", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, tt.args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &out)
			if err == nil {
				t.Fatalf("run %v succeeded, want an error", tt.args)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not name %q", err, tt.wantInErr)
			}
			var u usageError
			if got := errors.As(err, &u); got != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", got, tt.usage, err)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bank", "version"}, {"bank", "help"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "bank") {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
}
