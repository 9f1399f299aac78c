package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// runArgs runs the program with env and returns its output and error.
func runArgs(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"bank"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), &out, &out)
	return out.String(), err
}

// TestHelp asks every command and group for help, as a new user would: each
// answers on stdout with its summary, usage and an example, and succeeds.
func TestHelp(t *testing.T) {
	t.Parallel()
	type helpCase struct {
		args []string
		want []string
	}
	var tests []helpCase
	for _, c := range commands {
		args := strings.Fields(c.name)
		if c.name == "serve" {
			args = []string{"serve", "all"}
		}
		for _, h := range []string{"--help", "-h"} {
			tests = append(tests, helpCase{append(args, h), []string{c.summary, "Usage:", "Examples:", "  " + strings.Split(c.example, "\n")[0]}})
		}
	}
	for _, g := range []string{"db", "users", "ledger", "certs", "jwt", "backup", "maintenance"} {
		tests = append(tests, helpCase{[]string{g, "--help"}, []string{"Usage:", "bank " + g + " COMMAND"}})
	}
	tests = append(tests, helpCase{[]string{"serve", "--help"}, []string{"Usage:", "bank serve all"}},
		helpCase{[]string{"help"}, []string{"diagnose", "db terminate", "jwt rotate"}},
		helpCase{[]string{"db", "maintenance", "--help"}, []string{"analyze|vacuum|reindex", "--table"}})
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			out, err := runArgs(t, map[string]string{}, tt.args...)
			if err != nil {
				t.Fatalf("bank %s: %v, want success", strings.Join(tt.args, " "), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help does not contain %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestUsageMistakes checks that a mistake on the command line is one line
// naming what was typed and pointing at --help, with exit status 2.
func TestUsageMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "all", "--colour"}, `unknown flag --colour (see "bank serve all --help")`},
		{[]string{"bench", "--nope"}, `unknown flag --nope (see "bank bench --help")`},
		{[]string{"db"}, `see "bank db --help"`},
		{[]string{"db", "drop"}, `unknown command "db drop"`},
		{[]string{"db", "terminate"}, "--older-than is required"},
		{[]string{"db", "maintenance", "shrink"}, `not "shrink"`},
		{[]string{"ledger", "verify", "extra"}, `unexpected argument "extra"`},
		{[]string{"certs", "check"}, "at least one HOST:PORT or FILE"},
		{[]string{"diagnose", "--url", "localhost:8080"}, `--url "localhost:8080" must be NAME=http://HOST:PORT`},
		{[]string{"users", "unlock"}, "--email is required"},
		{[]string{"jwt", "rotate"}, "give --url for each running service"},
		{[]string{"ledger", "verify", "-o", "yaml"}, "-o must be table or json"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			out, err := runArgs(t, map[string]string{}, tt.args...)
			if err == nil {
				t.Fatalf("succeeded, want a usage error")
			}
			if exitCode(err) != 2 {
				t.Errorf("exit status %d, want 2 (%v)", exitCode(err), err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q besides the error, want nothing", out)
			}
		})
	}
}

// TestErrorNamesWhatWasTyped checks that a bad setting is named as the user
// gave it: the flag when it was on the command line, else the variable.
func TestErrorNamesWhatWasTyped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		want, not string
	}{
		{"flag", nil, []string{"migrate", "--database-url", "mysql://x"}, "--database-url must start", "BANK_DATABASE_URL"},
		{"variable", map[string]string{"BANK_DATABASE_URL": "mysql://x"}, []string{"migrate"}, "BANK_DATABASE_URL must start", "--database-url"},
		{"log level flag", nil, []string{"serve", "all", "--log-level", "loud", "--data-dir", dir}, "--log-level must be", "BANK_LOG_LEVEL"},
		{"bad address", nil, []string{"serve", "all", "--http-addr", "8080", "--data-dir", dir}, "--http-addr must be HOST:PORT", "BANK_HTTP_ADDR"},
		{"short jwt key", map[string]string{"BANK_JWT_SECRET": "short"}, []string{"serve", "all", "--data-dir", dir, "--http-addr", "127.0.0.1:0"}, "BANK_JWT_SECRET", ""},
		{"bench clients", nil, []string{"bench", "-c", "0"}, "-c (clients) must be", ""},
		{"rate limit", map[string]string{"BANK_RATE_LIMIT": "fast"}, []string{"serve", "all", "--data-dir", dir}, `BANK_RATE_LIMIT="fast": must be`, "--rate-limit"},
		{"trusted proxies", nil, []string{"serve", "all", "--data-dir", dir, "--trusted-proxies", "10.0.0.0/33"}, `--trusted-proxies "10.0.0.0/33"`, "BANK_TRUSTED_PROXIES"},
		{"smtp url", map[string]string{"BANK_SMTP_URL": "http://mail.example.test:25"}, []string{"serve", "notification", "--data-dir", dir}, "BANK_SMTP_URL must be smtp://", "--smtp-url"},
		// The URL's password is never repeated.
		{"smtp flag", nil, []string{"serve", "all", "--data-dir", dir, "--smtp-url", "smtp://u:hunter2@mail.example.test"}, "--smtp-url must name a host and a port", "hunter2"},
		{"sms url", map[string]string{"BANK_SMS_URL": "ftp://sms"}, []string{"serve", "all", "--data-dir", dir}, "BANK_SMS_URL must be an http", ""},
		{"sender", nil, []string{"serve", "all", "--data-dir", dir, "--smtp-from", "Bank <x@y.z>\r\nBcc: a@b.c"}, "--smtp-from must be one email address", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runArgs(t, tt.env, tt.args...)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) || (tt.not != "" && strings.Contains(err.Error(), tt.not)) {
				t.Errorf("error %q, want it to say %q and not %q", err, tt.want, tt.not)
			}
			// A flag's bad value is a mistake on the command line (the
			// README: exit 2); a bad environment fails the start (1).
			want := 1
			if strings.HasPrefix(tt.want, "-") {
				want = 2
			}
			if code := exitCode(err); code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
		})
	}
}

// TestConfigCheckedFirst checks that a taken port stops "serve" before it
// creates the database or a jwt-secret key in the data folder.
func TestConfigCheckedFirst(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	_, err = runArgs(t, nil, "serve", "all", "--data-dir", dir, "--http-addr", busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("serve on a taken port: %v, want a listen error", err)
	}
	if entries, err := os.ReadDir(dir); err == nil {
		t.Errorf("the data folder holds %d files after a failed start, want none", len(entries))
	}
}

// TestDataDirHoldsDatabase checks that --data-dir places the embedded
// database when no database URL is given.
func TestDataDirHoldsDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := runArgs(t, nil, "migrate", "--data-dir", dir); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bank.db")); err != nil {
		t.Errorf("no database in the data folder: %v", err)
	}
}

// TestLedgerVerifyWithoutSchema checks that verifying a database without the
// ledger says so with exit status 3, not 1, which means a violation.
func TestLedgerVerifyWithoutSchema(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, d)
			if d == store.SQLite {
				// An empty file: a database, without tables.
				path := strings.TrimPrefix(url, "sqlite://")
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": url}, "ledger", "verify")
			if got := exitCode(err); got != 3 || !strings.Contains(fmtErr(err), "no schema") {
				t.Errorf("ledger verify: exit %d, %v; want 3 and a message about the schema", got, err)
			}
		})
	}
	_, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "none.db")}, "ledger", "verify")
	var x exitError
	if !errors.As(err, &x) || x.code != 3 || !strings.Contains(x.msg, "no database at") {
		t.Errorf("ledger verify of a missing file: %v, want exit 3 saying there is no database", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// testCertPEM returns a self-signed certificate expiring at notAfter, as PEM.
func testCertPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bank.test"},
		NotBefore: notAfter.Add(-100 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
