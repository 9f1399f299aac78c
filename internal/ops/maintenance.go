package ops

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/store"
)

// Maintenance is the platform's maintenance mode, as the database holds it.
type Maintenance struct {
	On         bool          `json:"on"`
	Message    string        `json:"message"`
	RetryAfter time.Duration `json:"-"`
	Since      time.Time     `json:"since,omitzero"`
}

// DefaultMaintenanceMessage is shown when maintenance is turned on without one.
const DefaultMaintenanceMessage = "The service is down for maintenance. Please try again later."

// SetMaintenance turns the maintenance mode on or off for every replica,
// through db: the database, or a transaction that also records who did it.
func SetMaintenance(ctx context.Context, db audit.Execer, m Maintenance, now time.Time) error {
	if m.Message == "" {
		m.Message = DefaultMaintenanceMessage
	}
	secs := int(m.RetryAfter.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	_, err := db.ExecContext(ctx, `INSERT INTO maintenance (id, enabled, message, retry_after_seconds, updated_at)
		VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, message = excluded.message,
			retry_after_seconds = excluded.retry_after_seconds, updated_at = excluded.updated_at`,
		m.On, m.Message, secs, now.UTC())
	if err != nil {
		return fmt.Errorf("set the maintenance mode: %w", err)
	}
	return nil
}

// ReadMaintenance returns the maintenance mode; off when it was never set.
func ReadMaintenance(ctx context.Context, db *store.DB) (Maintenance, error) {
	var (
		m    Maintenance
		secs int
	)
	err := db.QueryRowContext(ctx, `SELECT enabled, message, retry_after_seconds, updated_at FROM maintenance WHERE id = 1`).
		Scan(&m.On, &m.Message, &secs, &m.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return Maintenance{}, nil
	}
	if err != nil {
		return Maintenance{}, fmt.Errorf("read the maintenance mode: %w", err)
	}
	m.RetryAfter = time.Duration(secs) * time.Second
	return m, nil
}

// MaintenanceWatch keeps a replica's copy of the maintenance mode, read from
// the database every interval, so that requests never wait on the database
// to learn it. Safe for concurrent use.
type MaintenanceWatch struct {
	db    *store.DB
	log   *slog.Logger
	state atomic.Pointer[Maintenance]
	// Clock is what Run waits on between reads (the real clock unless a
	// test sets another before Run).
	Clock clock.Clock
}

// NewMaintenanceWatch returns a watch that starts with maintenance off.
func NewMaintenanceWatch(db *store.DB, log *slog.Logger) *MaintenanceWatch {
	w := &MaintenanceWatch{db: db, log: log, Clock: clock.Real()}
	w.state.Store(&Maintenance{})
	return w
}

// State returns the last maintenance mode read.
func (w *MaintenanceWatch) State() Maintenance { return *w.state.Load() }

// Run reads the maintenance mode now and every interval until ctx ends. A
// failed read keeps the last state: a database outage neither starts nor
// ends a maintenance.
func (w *MaintenanceWatch) Run(ctx context.Context, interval time.Duration) {
	for {
		rctx, cancel := context.WithTimeout(ctx, interval+time.Second)
		_ = w.Refresh(rctx)
		cancel()
		if clock.Sleep(ctx, w.Clock, interval) != nil {
			return
		}
	}
}

// Refresh reads the maintenance mode now: a change made by this process
// applies to it at once. A failed read keeps the last state.
func (w *MaintenanceWatch) Refresh(ctx context.Context) error {
	m, err := ReadMaintenance(ctx, w.db)
	if err != nil {
		return err
	}
	if old := w.state.Swap(&m); old.On != m.On {
		w.log.Info("maintenance mode changed", "on", m.On, "message", m.Message)
	}
	return nil
}
