package payment

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// SimConfig tunes the simulated rail.
type SimConfig struct {
	// Delay is how long after receipt a payment settles or fails; a return
	// comes Delay after the settlement.
	Delay time.Duration
	// FailRate and ReturnRate are the shares (0 to 1) of payments that fail,
	// and that settle and then come back.
	FailRate, ReturnRate float64
	// Seed picks which payments fail or return: the same seed and payment id
	// always give the same outcome.
	Seed int64
}

// SimRail is a rail that pays nobody: it records what it received in the
// database (so every replica shares it, and a crash loses nothing) and
// settles, fails or returns each payment after a delay, as its seed decides.
type SimRail struct {
	db  *store.DB
	cfg SimConfig
	now func() time.Time
}

// NewSimRail returns a simulated rail over db.
func NewSimRail(db *store.DB, cfg SimConfig, now func() time.Time) *SimRail {
	return &SimRail{db: db, cfg: cfg, now: now}
}

// Name is "sim".
func (r *SimRail) Name() string { return "sim" }

// fate decides a payment's outcome from the seed and its id.
func (r *SimRail) fate(id string) (string, string) {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(r.cfg.Seed))
	h.Write(b[:])
	h.Write([]byte(id))
	u := float64(h.Sum64()>>11) / (1 << 53)
	switch {
	case u < r.cfg.FailRate:
		return OutcomeFailed, "R03: no account / unable to locate account"
	case u < r.cfg.FailRate+r.cfg.ReturnRate:
		return OutcomeReturned, "R01: insufficient funds"
	}
	return OutcomeSettled, ""
}

// Submit records each payment once, by id; a repeat only counts an attempt.
func (r *SimRail) Submit(ctx context.Context, batch []Instruction) ([]Receipt, error) {
	now := r.now().UTC().Truncate(time.Microsecond)
	out := make([]Receipt, len(batch))
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, in := range batch {
			kind, reason := r.fate(in.PaymentID)
			settle := now.Add(r.cfg.Delay)
			var ret any
			if kind == OutcomeReturned {
				ret = settle.Add(r.cfg.Delay)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO payment_rail_sim (payment_id, amount, currency, attempts, outcome,
				reason, received_at, settle_at, return_at, delivered) VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, '')
				ON CONFLICT (payment_id) DO UPDATE SET attempts = payment_rail_sim.attempts + 1`,
				in.PaymentID, in.Amount, in.Currency, kind, reason, now, settle, ret); err != nil {
				return fmt.Errorf("simulated rail: record %s: %w", in.PaymentID, err)
			}
			out[i] = Receipt{PaymentID: in.PaymentID}
		}
		return nil
	})
	return out, err
}

// Poll returns the outcomes that are due: a settlement or failure once its
// delay passed, then a return once its own delay passed.
func (r *SimRail) Poll(ctx context.Context, max int) ([]Outcome, error) {
	now := r.now().UTC()
	rows, err := r.db.QueryContext(ctx, `SELECT payment_id, outcome, reason, delivered, return_at FROM payment_rail_sim
		WHERE delivered <> 'done' AND settle_at <= $1 ORDER BY settle_at LIMIT $2`, now, max)
	if err != nil {
		return nil, fmt.Errorf("simulated rail: poll: %w", err)
	}
	defer rows.Close()
	var out []Outcome
	for rows.Next() {
		var id, kind, reason, delivered string
		var ret sql.NullTime
		if err := rows.Scan(&id, &kind, &reason, &delivered, &ret); err != nil {
			return nil, err
		}
		switch {
		case kind == OutcomeReturned && delivered == "":
			out = append(out, Outcome{PaymentID: id, Kind: OutcomeSettled})
		case kind == OutcomeReturned && ret.Valid && !ret.Time.After(now):
			out = append(out, Outcome{PaymentID: id, Kind: OutcomeReturned, Reason: reason})
		case kind != OutcomeReturned:
			out = append(out, Outcome{PaymentID: id, Kind: kind, Reason: reason})
		}
	}
	return out, rows.Err()
}

// Ack marks outcomes delivered: a settlement that a return will follow is
// half-delivered, every other outcome done.
func (r *SimRail) Ack(ctx context.Context, done []Outcome) error {
	if len(done) == 0 {
		return nil
	}
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, o := range done {
			q := `UPDATE payment_rail_sim SET delivered = 'done' WHERE payment_id = $1`
			if o.Kind == OutcomeSettled {
				q = `UPDATE payment_rail_sim SET delivered = CASE WHEN outcome = 'returned' THEN 'settled' ELSE 'done' END
					WHERE payment_id = $1 AND delivered = ''`
			}
			if _, err := tx.ExecContext(ctx, q, o.PaymentID); err != nil {
				return fmt.Errorf("simulated rail: ack %s: %w", o.PaymentID, err)
			}
		}
		return nil
	})
}

// Attempts returns how many times payment id was handed to the rail and
// whether it has it at all: what a test of "exactly once" looks at.
func (r *SimRail) Attempts(ctx context.Context, id string) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT attempts FROM payment_rail_sim WHERE payment_id = $1`, id).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}
