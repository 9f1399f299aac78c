package ops_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/docs"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// TestRunbookPsql runs the psql commands of runbook 4.1 and 4.2 as printed,
// with psql, on a migrated scratch database: psql reads the server from the
// PG* variables, as on an operator's machine. It also runs 4.3's ALTER SYSTEM
// steps, which work as printed only on a self-managed server and with a
// superuser (docs/operations.md gives the commands for RDS and CloudNativePG).
func TestRunbookPsql(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatal("psql is required (BANK_REQUIRE_TOOLS is set): apt-get install -y postgresql-client")
		}
		t.Skip("psql not found: apt-get install -y postgresql-client to run this test")
	}
	dbURL := storetest.MigratedURL(t, store.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	env := append(os.Environ(), "PSQLRC=/dev/null", "PGHOST="+u.Hostname(), "PGPORT="+u.Port(),
		"PGUSER="+u.User.Username(), "PGDATABASE="+dbName)
	if p, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+p)
	}
	if m := u.Query().Get("sslmode"); m != "" {
		env = append(env, "PGSSLMODE="+m)
	}
	steps := map[string]string{}
	for _, s := range docs.Runbook() {
		for _, st := range s.Steps {
			steps[s.ID+" "+st.Label] = st.Command
		}
	}
	// psql runs one step's commands as the runbook prints them, after
	// filling its placeholders, and returns what they print.
	psql := func(t *testing.T, step string, fill ...string) string {
		t.Helper()
		cmd, ok := steps[step]
		if !ok || !strings.HasPrefix(cmd, "psql ") {
			t.Fatalf("runbook step %q is %q, want psql commands", step, cmd)
		}
		cmd = strings.NewReplacer(fill...).Replace(cmd)
		c := exec.Command("bash", "-e", "-c", cmd)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	db := openAs(t, dbURL, "bank-cli")
	ctx := context.Background()

	t.Run("4.1", func(t *testing.T) {
		out := psql(t, "4.1 View connections directly",
			"<rds-endpoint>", u.Hostname(), "<username>", u.User.Username(), "-d fintech_banking_db", "-d "+dbName)
		if !strings.Contains(out, "application_name") || !strings.Contains(out, " row") {
			t.Errorf("pg_stat_activity printed:\n%s", out)
		}

		// The server is shared: run the termination only when it would end
		// nobody's session.
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query_start < now() - interval '5 minutes' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Skipf("%d statements on the test server have run over 5 minutes: the runbook's command would end them", n)
		}
		out = psql(t, "4.1 Terminate long-running queries (use with caution)")
		if !strings.Contains(out, "pg_terminate_backend") {
			t.Errorf("the termination printed:\n%s", out)
		}
	})

	t.Run("4.2", func(t *testing.T) {
		for _, tt := range []struct{ step, want string }{
			{"4.2 Analyze tables for query optimization", "ANALYZE"},
			{"4.2 Vacuum specific table", `vacuuming "` + dbName + `.public.transactions"`},
			{"4.2 Reindex (blocks writes)", "REINDEX"},
		} {
			if out := psql(t, tt.step); !strings.Contains(out, tt.want) {
				t.Errorf("%s printed %q, want %q in it", tt.step, out, tt.want)
			}
		}
	})

	t.Run("4.3", func(t *testing.T) {
		var super string
		if err := db.QueryRowContext(ctx, `SELECT current_setting('is_superuser')`).Scan(&super); err != nil {
			t.Fatal(err)
		}
		if super != "on" {
			t.Skip("the test role is no superuser: ALTER SYSTEM is refused, as on RDS")
		}
		// Every statement logged at 1 s would reach the shared server's log
		// only for the moment between the two steps.
		show := func() string {
			t.Helper()
			c := exec.Command("psql", "-XAtc", "SHOW log_min_duration_statement")
			c.Env = env
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("SHOW: %v\n%s", err, out)
			}
			return strings.TrimSpace(string(out))
		}
		before := show()
		t.Cleanup(func() { psql(t, "4.3 Disable after investigation") })
		psql(t, "4.3 Enable query logging temporarily")
		if got := show(); got != "1s" {
			t.Errorf("log_min_duration_statement after the runbook's enable: %q, want 1s", got)
		}
		psql(t, "4.3 Disable after investigation")
		if got := show(); got != before {
			t.Errorf("log_min_duration_statement after the runbook's disable: %q, want %q as before", got, before)
		}
	})
}
