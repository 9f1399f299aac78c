package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fintech-banking/bank/internal/store"
)

// TestBench runs a short "bank bench" of each scenario against "serve all":
// it must post transfers, find the ledger intact and write its chart.
func TestBench(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load for seconds per scenario")
	}
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			b := startBank(t, d)
			for _, scenario := range []string{"uniform", "hot-source", "batch", "mixed"} {
				plot := filepath.Join(t.TempDir(), "bench.svg")
				var out, errOut bytes.Buffer
				err := run(context.Background(), []string{"bank", "bench", "--url", b.url, "--scenario", scenario,
					"-c", "4", "-d", "1s", "--warmup", "50ms", "--accounts", "5", "-b", "10", "-o", "json", "--plot", plot},
					b.getenv, nil, &out, &errOut)
				if err != nil {
					t.Fatalf("bench %s: %v\n%s", scenario, err, errOut.String())
				}
				var sum struct {
					Transfers        int            `json:"transfers"`
					Errors           map[string]int `json:"errors"`
					LedgerViolations []string       `json:"ledger_violations"`
					Storage          *struct {
						WAL float64 `json:"wal_bytes_per_transfer"`
					} `json:"storage"`
				}
				if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
					t.Fatalf("bench %s output: %v\n%s", scenario, err, out.String())
				}
				if sum.Transfers == 0 || len(sum.Errors) > 0 || len(sum.LedgerViolations) > 0 {
					t.Errorf("bench %s: %+v, want transfers, no errors, no violations", scenario, sum)
				}
				// PostgreSQL tells what a transfer wrote; SQLite does not.
				if (d == store.Postgres) != (sum.Storage != nil && sum.Storage.WAL > 0) {
					t.Errorf("bench %s on %s: storage %+v", scenario, d, sum.Storage)
				}
				if svg, err := os.ReadFile(plot); err != nil || !bytes.Contains(svg, []byte("<svg")) {
					t.Errorf("bench %s wrote no chart: %v", scenario, err)
				}
			}
		})
	}
}
