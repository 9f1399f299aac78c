package bench

import (
	"context"
	"fmt"

	"github.com/fintech-banking/bank/internal/store"
)

// StorageSnapshot is how far a PostgreSQL server's write-ahead log had got
// and how large the benchmark's database was, at one moment.
type StorageSnapshot struct {
	wal, size int64
	ok        bool
}

// TakeStorage reads db's WAL position and size; on SQLite, or when the
// figures cannot be read, the snapshot is empty and Storage reports nothing.
func TakeStorage(ctx context.Context, db *store.DB) StorageSnapshot {
	if db.Dialect != store.Postgres {
		return StorageSnapshot{}
	}
	var s StorageSnapshot
	err := db.QueryRowContext(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,
		pg_database_size(current_database())`).Scan(&s.wal, &s.size)
	s.ok = err == nil
	return s
}

// StorageCost is what one transfer wrote: WAL bytes, and bytes of tables and
// indexes the database grew by. WAL is the whole server's: other databases'
// writes in the same period count too.
type StorageCost struct {
	WALBytes    float64 `json:"wal_bytes_per_transfer"`
	StoredBytes float64 `json:"stored_bytes_per_transfer"`
}

// Storage returns the cost per transfer between two snapshots, or nil.
func Storage(before, after StorageSnapshot, transfers int) *StorageCost {
	if !before.ok || !after.ok || transfers == 0 {
		return nil
	}
	n := float64(transfers)
	return &StorageCost{WALBytes: float64(after.wal-before.wal) / n, StoredBytes: float64(after.size-before.size) / n}
}

func (c *StorageCost) String() string {
	if c == nil {
		return "n/a"
	}
	return fmt.Sprintf("WAL %.0f bytes, tables and indexes %.0f bytes per transfer", c.WALBytes, c.StoredBytes)
}
