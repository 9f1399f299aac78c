package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/store"
)

// Relay publishes committed events to a queue that is not the platform's
// table queue: every row at least once, in the order of its seq, then
// deletes what it sent. Events are written straight into the table queue's
// main queue (internal/event), so with BANK_QUEUE_URL=db they need no relay:
// the row committed with a transfer is the message a consumer receives.
// With SQS the relay forwards those rows. In both cases it also forwards the
// rows of the outbox table, which releases before events went straight to
// the queue wrote, so that nothing waiting at an upgrade is lost.
//
// Order. Rows are read as "the unsent rows in seq order, LIMIT n", never
// as "seq > the last sent": seq is taken at insert, not at commit, so with
// several committers a row with a lower seq may commit after a higher one
// was sent; it is then simply the first unsent row of a later batch.
// Events of one aggregate (an account, a user) keep their order because
// their writers are serialized by the aggregate's row lock, held from
// before they insert their event rows until they commit: of two events of
// one account, the later one is inserted, and so numbered, only after the
// earlier one committed. A batch is sent in seq order; what a queue does
// with that order is its own (the table queue keeps it, an SQS standard
// queue does not promise to).
//
// Several replicas. Only the holder of the lease (a row of relay_lease,
// expiring in the database's clock) publishes. The holder renews it once a
// third of it has gone and does not start a send once a third is left;
// another replica takes over only after it expires. So two replicas never
// publish at once unless one stalls for longer than the lease (a paused
// VM): then rows may go out twice, which at-least-once allows and
// consumers absorb by deduplicating on the event id.
//
// Crashes. A crash between the send and the delete sends those rows again.
//
// Refusals. A row the queue refuses for good (a *SendError that leaves it
// out) stays and is tried again with each batch; the rows the queue took
// are deleted, so it holds back nothing. Its aggregate's later events then
// go out before it: a refused event is an incident, shown by the lag
// metric and the log.
type Relay struct {
	db      *store.DB
	q       Queue
	log     *slog.Logger
	lease   *lease.Leases
	holder  string
	cfg     RelayConfig
	metrics *RelayMetrics
	renewed time.Time // when this relay last took or renewed the lease
	sources []source
}

// source is a table the relay empties into the queue: how to read its first
// unsent rows (seq, body) and how to delete those sent.
type source struct {
	read, delete string
}

var (
	// outboxSource is the outbox table of releases before events went
	// straight to the table queue.
	outboxSource = source{read: `SELECT seq, payload FROM outbox ORDER BY seq LIMIT $1`,
		delete: `DELETE FROM outbox WHERE seq IN `}
	// eventSource is the events' own queue, forwarded when the platform's
	// queue is another (SQS).
	eventSource = source{read: `SELECT seq, body FROM queue_messages WHERE queue = '` + event.Queue + `' ORDER BY seq LIMIT $1`,
		delete: `DELETE FROM queue_messages WHERE queue = '` + event.Queue + `' AND seq IN `}
)

// relayLease is the one row of relay_lease, name 'outbox', whose holder
// publishes.
var relayLease = lease.Columns{Table: "relay_lease", Key: "name", Owner: "holder", Until: "expires_at", Millis: true}

// RelayConfig tunes a Relay.
type RelayConfig struct {
	Batch int           // rows per read, events per send (default 100)
	Poll  time.Duration // pause when the outbox is empty (default 200 ms)
	Lease time.Duration // how long a holder keeps the lease unrenewed (default 15 s)
	// Forward publishes the events' own table queue (event.Queue) too: set
	// it when the queue is another one (SQS), never when it is that table
	// queue, which would then send its messages to itself.
	Forward bool
	// Clock is what the relay pauses on and times its lease by (nil: the
	// real clock).
	Clock clock.Clock
}

// DefaultRelayConfig is what serve runs.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{Batch: 100, Poll: 200 * time.Millisecond, Lease: 15 * time.Second}
}

// NewRelay returns a relay from db's events to q. metrics may be nil.
func NewRelay(db *store.DB, q Queue, log *slog.Logger, cfg RelayConfig, metrics *RelayMetrics) *Relay {
	def := DefaultRelayConfig()
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = def.Poll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = def.Lease
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	r := &Relay{db: db, q: q, log: log, lease: lease.New(db, relayLease), holder: lease.Instance(), cfg: cfg, metrics: metrics,
		sources: []source{outboxSource}}
	if cfg.Forward {
		r.sources = append(r.sources, eventSource)
		metrics.forwarding()
	}
	return r
}

// Run publishes until ctx ends. Errors (the database or the queue away) are
// logged and retried after a pause; Run returns only when ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	wasLeader := false
	var lastLog time.Time
	for ctx.Err() == nil {
		n, leader, err := r.step(ctx)
		if leader != wasLeader {
			r.log.Info("outbox relay", "active", leader, "holder", r.holder)
			wasLeader = leader
			r.metrics.setLeader(leader)
		}
		pause := time.Duration(0)
		switch {
		case err != nil && ctx.Err() == nil:
			// At most a line every 10 s: a refused row fails every batch.
			if time.Since(lastLog) > 10*time.Second {
				r.log.Warn("outbox relay", "error", err.Error())
				lastLog = time.Now()
			}
			// Rows that went out mean the queue works: go on at once.
			if n == 0 {
				pause = time.Second
			}
		case !leader:
			pause = r.cfg.Lease / 3
		case n == 0:
			pause = r.cfg.Poll
		}
		if pause > 0 {
			_ = clock.Sleep(ctx, r.cfg.Clock, pause)
		}
	}
	if wasLeader {
		// Let another replica take over at once instead of after the lease.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = r.lease.Release(ctx, "outbox", r.holder)
		r.metrics.setLeader(false)
	}
	return nil
}

// step takes or renews the lease and, holding it, publishes one batch. It
// says how many rows it published and whether this relay holds the lease.
func (r *Relay) step(ctx context.Context) (int, bool, error) {
	// Renewed once a third of the lease has gone, not before every batch:
	// an idle relay polling the outbox writes nothing.
	if r.renewed.IsZero() || clock.Since(r.cfg.Clock, r.renewed) > r.cfg.Lease/3 {
		start := r.cfg.Clock.Now()
		// A relay that held the lease only renews it: if another took it
		// meanwhile (this one stalled past its end), this one has lost it
		// and waits for a free lease like any other.
		take := r.lease.Acquire
		if !r.renewed.IsZero() {
			take = r.lease.Renew
		}
		ok, err := take(ctx, "outbox", r.holder, r.cfg.Lease)
		if err != nil || !ok {
			r.renewed = time.Time{}
			return 0, false, err
		}
		r.renewed = start
	}
	// The lease runs until at least renewed + Lease (the database's clock
	// started counting after start): stop sending well before.
	safeUntil := r.renewed.Add(r.cfg.Lease * 2 / 3)
	n, err := r.publish(ctx, safeUntil)
	return n, true, err
}

// publish sends the first unsent rows of the first source that has some, in
// seq order, then deletes them.
func (r *Relay) publish(ctx context.Context, safeUntil time.Time) (int, error) {
	for _, src := range r.sources {
		n, err := r.publishFrom(ctx, src, safeUntil)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, nil
}

func (r *Relay) publishFrom(ctx context.Context, src source, safeUntil time.Time) (int, error) {
	var (
		seqs   []any
		bodies [][]byte
	)
	read := func(q querier) error {
		seqs, bodies = nil, nil
		rows, err := q.QueryContext(ctx, src.read, r.cfg.Batch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				seq  int64
				body []byte
			)
			if err := rows.Scan(&seq, &body); err != nil {
				return err
			}
			seqs = append(seqs, seq)
			bodies = append(bodies, body)
		}
		return rows.Err()
	}
	var err error
	if r.db.Dialect == store.Postgres {
		// In order (readInOrder): after an outage of the queue the rows go
		// to, the backlog is at its largest.
		err = r.db.Tx(ctx, func(tx *sql.Tx) error {
			if err := readInOrder(ctx, r.db, tx); err != nil {
				return err
			}
			return read(tx)
		})
	} else {
		err = read(r.db) // a transaction would wait for SQLite's writers
	}
	if err != nil {
		return 0, fmt.Errorf("read the outbox: %w", err)
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	if r.cfg.Clock.Now().After(safeUntil) {
		return 0, nil // renew the lease first
	}
	// A group (event.Group) goes out an event a message: SQS's consumers
	// and dead-letter queue deal in single events. A send carries up to
	// Batch events (the first row whole): the rows after wait for the next.
	var (
		events [][]byte
		rowOf  []int // the row of events[i]
	)
	for i, b := range bodies {
		parts, err := event.Split(b)
		if err != nil {
			parts = [][]byte{b} // not a group after all: the consumer dead-letters it
		}
		if i > 0 && len(events)+len(parts) > r.cfg.Batch {
			seqs, bodies = seqs[:i], bodies[:i]
			break
		}
		events = append(events, parts...)
		for range parts {
			rowOf = append(rowOf, i)
		}
	}
	// A send that stalls past the lease would overlap the next holder's
	// sends: it is cut off before the lease can end (renewed was taken
	// before the database started counting).
	sctx, cancel := context.WithTimeout(ctx, r.cfg.Lease-clock.Since(r.cfg.Clock, r.renewed))
	sendErr := r.q.Send(sctx, events...)
	cancel()
	sent := seqs
	if sendErr != nil {
		// A queue that took some of the rows (SQS refusing one entry of a
		// batch) says which: those are deleted, so that they do not go out
		// again with every retry, and one row the queue refuses for good
		// does not hold back the rows behind it. It stays, and the lag
		// metric grows with its age. A group is deleted when all its events
		// went; those that did go out again with it, at least once.
		var se *SendError
		if !errors.As(sendErr, &se) {
			return 0, fmt.Errorf("publish %d outbox rows: %w", len(seqs), sendErr)
		}
		missing := make([]int, len(bodies)) // events of each row not sent
		for _, row := range rowOf {
			missing[row]++
		}
		for _, i := range se.Sent {
			if i >= 0 && i < len(rowOf) {
				missing[rowOf[i]]--
			}
		}
		sent = make([]any, 0, len(se.Sent))
		for row, n := range missing {
			if n == 0 {
				sent = append(sent, seqs[row])
			}
		}
		sendErr = fmt.Errorf("publish outbox rows: %d of %d sent: %w", len(sent), len(seqs), sendErr)
	}
	if len(sent) == 0 {
		return 0, sendErr
	}
	marks := make([]string, len(sent))
	for i := range sent {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	// Deleted, not marked: the outbox stays as small as what is unsent.
	// If this fails the rows go out again: at least once.
	if _, err := r.db.ExecContext(ctx, src.delete+`(`+strings.Join(marks, ", ")+`)`, sent...); err != nil {
		return 0, errors.Join(sendErr, fmt.Errorf("delete %d published outbox rows (they will be sent again): %w", len(sent), err))
	}
	r.metrics.published(len(sent))
	return len(sent), sendErr
}

// Lag is the age of the oldest event not yet handed to the queue: in the
// outbox of an earlier release and, when forward is set (the queue is SQS),
// in the events' own queue; 0 when none is waiting.
func Lag(ctx context.Context, db *store.DB, now time.Time, forward bool) (time.Duration, error) {
	var oldest sql.NullInt64
	q := `SELECT MIN(ms) FROM (SELECT ` + epochMillis(db.Dialect, "MIN(created_at)") + ` AS ms FROM outbox`
	if forward {
		q += ` UNION ALL SELECT MIN(sent_at) FROM queue_messages WHERE queue = '` + event.Queue + `'`
	}
	if err := db.QueryRowContext(ctx, q+`) AS w`).Scan(&oldest); err != nil {
		return 0, fmt.Errorf("read the oldest unpublished event: %w", err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(now.Sub(time.UnixMilli(oldest.Int64)), 0), nil
}

// epochMillis is the SQL of col, a time, in milliseconds since the epoch.
func epochMillis(d store.Dialect, col string) string {
	if d == store.Postgres {
		return `CAST(EXTRACT(EPOCH FROM ` + col + `) * 1000 AS BIGINT)`
	}
	return `CAST((julianday(` + col + `) - 2440587.5) * 86400000 AS INTEGER)`
}

// RelayMetrics are the relay's series: bank_outbox_relay_published_total,
// bank_outbox_relay_active (1 on the replica holding the lease) and
// bank_outbox_relay_lag_seconds, read from the outbox at each scrape.
type RelayMetrics struct {
	publishedTotal prometheus.Counter
	active         prometheus.Gauge
	forward        atomic.Bool // the relay forwards the events' own queue
}

// NewRelayMetrics registers the relay's series on reg; lag reads the
// outbox's oldest row.
func NewRelayMetrics(reg prometheus.Registerer, db *store.DB) *RelayMetrics {
	m := &RelayMetrics{
		publishedTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "bank_outbox_relay_published_total",
			Help: "Outbox rows this process published to the queue."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bank_outbox_relay_active",
			Help: "1 while this process holds the relay lease and publishes the outbox."}),
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bank_outbox_relay_lag_seconds",
		Help: "Age of the oldest outbox row not yet published (0 when the outbox is empty)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d, err := Lag(ctx, db, time.Now(), m.forward.Load())
		if err != nil {
			return math.NaN() // unknown, not "no lag"
		}
		return d.Seconds()
	})
	reg.MustRegister(m.publishedTotal, m.active, lag)
	return m
}

func (m *RelayMetrics) forwarding() {
	if m != nil {
		m.forward.Store(true)
	}
}

func (m *RelayMetrics) published(n int) {
	if m != nil {
		m.publishedTotal.Add(float64(n))
	}
}

func (m *RelayMetrics) setLeader(on bool) {
	if m != nil {
		v := 0.0
		if on {
			v = 1
		}
		m.active.Set(v)
	}
}
