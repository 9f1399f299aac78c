package ops_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// recorder is a Progress that keeps what it is told.
type recorder struct {
	mu    sync.Mutex
	steps []string
	bytes [][2]int64 // done, total
}

// Step keeps name, and marks in bytes where a step begins (-1, -1).
func (r *recorder) Step(name string) {
	r.mu.Lock()
	r.steps = append(r.steps, name)
	r.bytes = append(r.bytes, [2]int64{-1, -1})
	r.mu.Unlock()
}
func (r *recorder) Bytes(done, total int64) {
	r.mu.Lock()
	r.bytes = append(r.bytes, [2]int64{done, total})
	r.mu.Unlock()
}

// TestBackupProgress checks what a backup and a restore tell their
// progress: each step by name, and bytes that only grow and end at the
// backup file's size, as its manifest records it.
func TestBackupProgress(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			srcURL := storetest.URL(t, d)
			src, err := store.Open(ctx, srcURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if _, err := src.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var made recorder
			m, err := ops.CreateBackup(ctx, src, srcURL, dir, time.Now(), &made)
			if err != nil {
				t.Fatal(err)
			}
			size := m.Files[0].Bytes
			if len(made.steps) < 3 || !endsAt(made.bytes, size) {
				t.Errorf("backup told steps %q and bytes %v, want its steps and bytes ending at %d", made.steps, tail(made.bytes), size)
			}
			var restored recorder
			if _, err := ops.Restore(ctx, filepath.Join(dir, m.Name), storetest.URL(t, d), false, &restored); err != nil {
				t.Fatal(err)
			}
			if len(restored.steps) < 2 || !endsAt(restored.bytes, size) {
				t.Errorf("restore told steps %q and bytes %v, want its steps and bytes ending at %d", restored.steps, tail(restored.bytes), size)
			}
		})
	}
}

// endsAt reports whether bytes only grow within each step, and the last
// report is total of total.
func endsAt(bytes [][2]int64, total int64) bool {
	if len(bytes) == 0 {
		return false
	}
	for i := 1; i < len(bytes); i++ {
		if bytes[i][0] >= 0 && bytes[i-1][0] >= 0 && bytes[i][0] < bytes[i-1][0] {
			return false
		}
	}
	last := bytes[len(bytes)-1]
	return last[0] == total && last[1] == total
}

func tail(b [][2]int64) [][2]int64 { return b[max(len(b)-3, 0):] }
