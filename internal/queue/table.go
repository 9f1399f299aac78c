package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/store"
)

// TableConfig describes a table queue when it is first created. Once its
// row exists in the queues table, the database's values win: every replica
// reads them, and SetVisibilityTimeout changes them for all.
type TableConfig struct {
	// Name of the main queue; its dead-letter queue is Name + "-dlq".
	Name string
	// VisibilityTimeout is how long a received message stays hidden
	// (default 30 s, as on SQS).
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how many receives a message gets before it moves
	// to the dead-letter queue (default 5).
	MaxReceiveCount int
	// Poll is the pause between two looks at an empty queue during a long
	// poll (default 50 ms).
	Poll time.Duration
	// Metrics, when set, counts dead-lettered messages.
	Metrics *Metrics
	// Now is the clock that visibility timeouts and send times are measured
	// in (nil: time.Now); tests move it instead of waiting.
	Now func() time.Time
}

// DefaultTableConfig is the platform's queue: "notifications", 30 s, 5 receives.
func DefaultTableConfig() TableConfig {
	return TableConfig{Name: event.Queue, VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5, Poll: 50 * time.Millisecond}
}

// Table is a Queue kept in the platform's database, with SQS's semantics.
// Consumers on PostgreSQL compete with FOR UPDATE SKIP LOCKED; SQLite has
// one writer at a time, so its receives simply take turns.
type Table struct {
	db      *store.DB
	name    string
	dlq     string
	poll    time.Duration
	now     func() time.Time
	metrics *Metrics
	lock    string // the row-locking clause of the dialect

	// A receive reads from floor, past the last seq the receives before it
	// read, instead of the start of the queue: the index entries of the
	// messages consumed before stay until the table is vacuumed, and
	// reading past tens of thousands of them made each receive slower the
	// faster messages went through. Messages below the floor (back from a
	// visibility timeout, skipped while another receive held them, or
	// committed after a later seq) are found by a receive from the start at
	// least every rescan.
	floor    atomic.Int64
	rescanAt atomic.Int64 // ms: when the next receive reads from the start
}

// rescan is how often a receive reads the queue from its start.
const rescan = time.Second

var (
	_ Taker    = (*Table)(nil)
	_ Rewriter = (*Table)(nil)
)

// OpenTable returns the table queue cfg names, creating its row in the
// queues table if it is missing. The database must be migrated.
func OpenTable(ctx context.Context, db *store.DB, cfg TableConfig) (*Table, error) {
	def := DefaultTableConfig()
	if cfg.Name == "" {
		cfg.Name = def.Name
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = def.VisibilityTimeout
	}
	if cfg.MaxReceiveCount == 0 {
		cfg.MaxReceiveCount = def.MaxReceiveCount
	}
	if cfg.Poll <= 0 {
		cfg.Poll = def.Poll
	}
	if err := checkVisibility(cfg.VisibilityTimeout); err != nil {
		return nil, err
	}
	if cfg.MaxReceiveCount < 1 || cfg.MaxReceiveCount > 1000 {
		return nil, fmt.Errorf("queue %s: max receive count %d must be from 1 to 1000", cfg.Name, cfg.MaxReceiveCount)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Table{db: db, name: cfg.Name, dlq: cfg.Name + "-dlq", poll: cfg.Poll, now: cfg.Now, metrics: cfg.Metrics}
	if db.Dialect == store.Postgres {
		t.lock = " FOR UPDATE SKIP LOCKED"
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO queues (name, dead_letter_queue, visibility_timeout_ms, max_receive_count)
		VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
		t.name, t.dlq, cfg.VisibilityTimeout.Milliseconds(), cfg.MaxReceiveCount); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", t.name, err)
	}
	return t, nil
}

// Name is the main queue's name.
func (t *Table) Name() string { return t.name }

func checkVisibility(d time.Duration) error {
	if d < 0 || d > 12*time.Hour {
		return fmt.Errorf("visibility timeout %s must be from 0 to 12h", d)
	}
	return nil
}

func (t *Table) ms() int64 { return t.now().UnixMilli() }

// sendChunk bounds the rows of one INSERT.
const sendChunk = 200

// Send enqueues bodies on the main queue in one transaction, in order.
func (t *Table) Send(ctx context.Context, bodies ...[]byte) error {
	if len(bodies) == 0 {
		return nil
	}
	now := t.ms()
	err := t.db.InTx(ctx, func(tx *sql.Tx) error {
		// Multi-row inserts, in order: one round trip per sendChunk bodies.
		for start := 0; start < len(bodies); start += sendChunk {
			chunk := bodies[start:min(start+sendChunk, len(bodies))]
			var q strings.Builder
			q.WriteString(`INSERT INTO queue_messages (id, queue, body, events, sent_at, visible_at) VALUES `)
			args := []any{t.name, now}
			for i, b := range chunk {
				if b == nil {
					b = []byte{}
				}
				if i > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "($%d, $1, $%d, $%d, $2, $2)", len(args)+1, len(args)+2, len(args)+3)
				args = append(args, bank.NewID(), b, eventsIn(b))
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("send %d messages to queue %s: %w", len(bodies), t.name, err)
	}
	return nil
}

// Receive waits up to wait for messages, looking every Poll. A message
// that has had its max receive count moves to the dead-letter queue when it
// would be handed out once more.
func (t *Table) Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error) {
	return t.Take(ctx, max, wait, nil)
}

// lockOf is the dialect's clause that locks the picked rows of table alias
// a, skipping those another receive holds.
func (t *Table) lockOf(a string) string {
	if t.db.Dialect == store.Postgres {
		return " FOR UPDATE OF " + a + " SKIP LOCKED"
	}
	return ""
}

// TakeFunc looks at msgs and says which of them its caller can consume:
// done[i] for msgs[i]. The messages past len(done) it leaves as they were,
// for later receives: a caller that counts its work in something else than
// messages (the events of a group) takes no more than it can do. write,
// when not nil, is called in the transaction that deletes them, with
// taken[i] set for each that was still there to delete (on SQLite, where
// messages are read before the write lock is taken, another receive may
// have had one first): what it writes commits with their deletion, or
// neither does.
type TakeFunc func(ctx context.Context, msgs []Message) (done []bool, write func(ctx context.Context, tx *sql.Tx, taken []bool) error, err error)

// Take is a receive that can consume in place: it takes up to max visible
// messages, waiting up to wait as Receive does, and hands them to fn. The
// messages fn can consume are deleted in one transaction with what fn
// writes for them: consumed exactly once, with no receive recorded and no
// second commit. The others are received as Receive receives them and
// returned, with receipts, to be handled and deleted as usual; with fn nil,
// Take is Receive. The messages fn sees have no receipt; their
// ReceiveCount is the receives they had before. An error of fn or write
// leaves every message as it was and is returned; both may be run again
// when the database asks for a retry, so they must have no effects outside
// the transaction.
//
// On PostgreSQL the messages are locked (FOR UPDATE SKIP LOCKED) for the
// whole of it, so competing consumers never look at the same ones. On
// SQLite, whose one write lock every writer waits for, they are read
// without it and fn runs before the write transaction begins: the ledger
// waits for the deletes and fn's writes, not for fn's thinking.
func (t *Table) Take(ctx context.Context, max int, wait time.Duration, fn TakeFunc) ([]Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("receive from queue %s: max %d must be at least 1", t.name, max)
	}
	deadline := time.Now().Add(wait)
	for {
		ms, found, err := t.takeOnce(ctx, max, fn)
		if err != nil || found > 0 {
			return ms, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		timer := time.NewTimer(min(left, t.poll))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// picked is a visible message as takeOnce read it.
type picked struct {
	seq int64
	m   Message
}

// takeOnce reads the first visible messages, dead-letters those out of
// receives, lets fn consume what it can, and receives the rest. It reports
// the messages received and how many live messages it found.
func (t *Table) takeOnce(ctx context.Context, max int, fn TakeFunc) ([]Message, int, error) {
	now := t.ms()
	from := t.from(now)
	var (
		out   []Message
		found int
		dead  int64
	)
	err := store.Retry(ctx, store.Retryable, func() error {
		out, found, dead = out[:0], 0, 0
		var (
			live            []picked
			deadSeqs        []int64
			end, visibility int64 // the last seq read, the visibility timeout
			done            []bool
			write           func(context.Context, *sql.Tx, []bool) error
		)
		// look reads the messages through q and asks fn about them.
		look := func(q querier) error {
			var err error
			if live, deadSeqs, end, visibility, err = t.pick(ctx, q, now, from, max); err != nil {
				return err
			}
			if end > 0 {
				// A receive beside this one reads past what this one
				// holds, instead of trying its locks one by one.
				t.raiseFloor(end + 1)
			}
			found = len(live)
			if fn != nil && len(live) > 0 {
				if done, write, err = fn(ctx, messages(live)); err == nil && len(done) < len(live) {
					// Left for later, below the floor a receive beside
					// this one may raise: the next receive reads from
					// the start.
					t.rescanAt.Store(0)
					live = live[:len(done)]
				}
			}
			return err
		}
		settle := func(tx *sql.Tx) error {
			if len(live)+len(deadSeqs) == 0 {
				return nil
			}
			var err error
			out, dead, err = t.settle(ctx, tx, now, visibility, live, deadSeqs, done, write)
			return err
		}
		var err error
		if t.db.Dialect == store.SQLite {
			// Read without the write lock; only settling waits for it.
			if err = look(t.db); err == nil && len(live)+len(deadSeqs) > 0 {
				err = t.db.Tx(ctx, settle)
			}
		} else {
			// As for deletes (consumerTx): a receive the database loses
			// in a crash only makes the message visible again, and a
			// consumption lost with its writes is done again.
			err = t.consumerTx(ctx, func(tx *sql.Tx) error {
				if err := look(tx); err != nil {
					return err
				}
				return settle(tx)
			})
		}
		return err
	})
	if err != nil {
		// What this take read is left as it was, below the floor it
		// raised: the next receive reads from the start.
		t.rescanAt.Store(0)
		return nil, 0, fmt.Errorf("receive from queue %s: %w", t.name, err)
	}
	if dead > 0 {
		t.metrics.deadLettered(t.name, int(dead))
	}
	return out, found, nil
}

func messages(ps []picked) []Message {
	out := make([]Message, len(ps))
	for i, p := range ps {
		out[i] = p.m
	}
	return out
}

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// receiveSQL reads the first visible messages of queue $1 from seq $4 on,
// at most $3, with the queue's settings; $2 is the time.
const receiveSQL = `SELECT m.seq, m.id, m.body, m.receive_count, m.sent_at, q.max_receive_count, q.visibility_timeout_ms
	FROM queue_messages m JOIN queues q ON q.name = m.queue
	WHERE m.queue = $1 AND m.seq >= $4 AND m.visible_at <= $2 ORDER BY m.seq LIMIT $3`

// from is the seq a receive at now reads from: the floor, or the start of
// the queue once every rescan.
func (t *Table) from(now int64) int64 {
	if at := t.rescanAt.Load(); now >= at && t.rescanAt.CompareAndSwap(at, now+rescan.Milliseconds()) {
		return 0
	}
	return t.floor.Load()
}

// pick reads up to max of the first visible messages from seq from on, in
// send order, locked on PostgreSQL, and the queue's visibility timeout;
// those out of receives come apart, to be dead-lettered instead of handed
// out once more.
func (t *Table) pick(ctx context.Context, db querier, now, from int64, max int) (live []picked, deadSeqs []int64, last, visibility int64, err error) {
	rows, err := db.QueryContext(ctx, receiveSQL+t.lockOf("m"), t.name, now, max, from)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p          picked
			sent, most int64
		)
		if err := rows.Scan(&p.seq, &p.m.ID, &p.m.Body, &p.m.ReceiveCount, &sent, &most, &visibility); err != nil {
			return nil, nil, 0, 0, err
		}
		last = p.seq
		if int64(p.m.ReceiveCount) >= most {
			deadSeqs = append(deadSeqs, p.seq)
			continue
		}
		p.m.SentAt = time.UnixMilli(sent)
		live = append(live, p)
	}
	return live, deadSeqs, last, visibility, rows.Err()
}

// raiseFloor moves the floor up to seq, never down: receives running side
// by side each raise it past what they handled.
func (t *Table) raiseFloor(seq int64) {
	for {
		f := t.floor.Load()
		if seq <= f || t.floor.CompareAndSwap(f, seq) {
			return
		}
	}
}

// settle writes, in tx, what takeOnce decided: dead-letters deadSeqs,
// deletes what fn is done with beside what write writes, and receives the
// rest of live, which it returns. Each row is changed only if it is still
// as pick read it, visible (on PostgreSQL pick's lock sees to that; on
// SQLite another receive may have been first).
func (t *Table) settle(ctx context.Context, tx *sql.Tx, now, visibility int64, live []picked, deadSeqs []int64,
	done []bool, write func(context.Context, *sql.Tx, []bool) error) ([]Message, int64, error) {
	var dead int64
	if len(deadSeqs) > 0 {
		in, args := store.In(t.db, "seq", deadSeqs, t.dlq, now, t.name)
		res, err := tx.ExecContext(ctx, `UPDATE queue_messages SET queue = $1, visible_at = $2 WHERE queue = $3 AND visible_at <= $2 AND `+in, args...)
		if err != nil {
			return nil, 0, fmt.Errorf("dead-letter: %w", err)
		}
		dead, _ = res.RowsAffected()
	}
	var doneSeqs, restSeqs []int64
	for i, p := range live {
		if i < len(done) && done[i] {
			doneSeqs = append(doneSeqs, p.seq)
		} else {
			restSeqs = append(restSeqs, p.seq)
		}
	}
	if len(doneSeqs) > 0 {
		query, args := t.consume(doneSeqs, now)
		gone, err := seqsOf(tx.QueryContext(ctx, query, args...))
		if err != nil {
			return nil, 0, fmt.Errorf("delete consumed messages: %w", err)
		}
		if write != nil {
			taken := make([]bool, len(live))
			for i, p := range live {
				taken[i] = gone[p.seq]
			}
			if err := write(ctx, tx, taken); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(restSeqs) == 0 {
		return nil, dead, nil
	}
	in, args := store.In(t.db, "seq", restSeqs, now+visibility, now, t.name)
	got, err := seqsOf(tx.QueryContext(ctx, `UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = $1
		WHERE queue = $3 AND visible_at <= $2 AND `+in+` RETURNING seq`, args...))
	if err != nil {
		return nil, 0, err
	}
	var out []Message
	for i, p := range live {
		if (i >= len(done) || !done[i]) && got[p.seq] {
			m := p.m
			m.ReceiveCount++
			m.Receipt = receipt(p.seq, m.ReceiveCount)
			out = append(out, m)
		}
	}
	return out, dead, nil
}

// consume is the statement that deletes the messages at seqs consumed in
// place, if they are still visible at now, and returns their seqs.
func (t *Table) consume(seqs []int64, now int64) (string, []any) {
	in, args := store.In(t.db, "seq", seqs, t.name, now)
	return `DELETE FROM queue_messages WHERE queue = $1 AND visible_at <= $2 AND ` + in + ` RETURNING seq`, args
}

// seqsOf reads the seq column of rows.
func seqsOf(rows *sql.Rows, err error) (map[int64]bool, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		out[seq] = true
	}
	return out, rows.Err()
}

// receipt names one receive of the message at seq: once the message is
// received again, its count has moved on and the old receipt matches
// nothing. It names the row by seq, the primary key: no other index is
// needed to find it.
func receipt(seq int64, count int) string {
	return strconv.FormatInt(seq, 10) + "/" + strconv.Itoa(count)
}

// parseReceipt splits a receipt into its message's seq and receive count.
func parseReceipt(r string) (int64, int, error) {
	s, n, ok := strings.Cut(r, "/")
	seq, serr := strconv.ParseInt(s, 10, 64)
	count, err := strconv.Atoi(n)
	if !ok || serr != nil || seq < 1 || err != nil || count < 1 {
		return 0, 0, fmt.Errorf("%w: %q is not a receipt of the table queue", ErrUnknownReceipt, r)
	}
	return seq, count, nil
}

// Delete removes received messages, a few hundred per statement;
// ErrUnknownReceipt names those received again since, deleted, or
// dead-lettered.
func (t *Table) Delete(ctx context.Context, receipts ...string) error {
	var unknown []string
	for start := 0; start < len(receipts); start += sendChunk {
		chunk := receipts[start:min(start+sendChunk, len(receipts))]
		var q strings.Builder
		q.WriteString(`DELETE FROM queue_messages WHERE queue = $1 AND (seq, receive_count) IN (VALUES `)
		args := []any{t.name}
		for _, r := range chunk {
			seq, count, err := parseReceipt(r)
			if err != nil {
				unknown = append(unknown, r)
				continue
			}
			if len(args) > 1 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "(CAST($%d AS BIGINT), CAST($%d AS INTEGER))", len(args)+1, len(args)+2)
			args = append(args, seq, count)
		}
		if len(args) == 1 {
			continue
		}
		q.WriteString(`) RETURNING seq, receive_count`)
		deleted, err := t.consumerRows(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("delete %d messages from queue %s: %w", len(chunk), t.name, err)
		}
		for _, r := range chunk {
			if seq, count, err := parseReceipt(r); err == nil && !deleted[receipt(seq, count)] {
				unknown = append(unknown, r)
			}
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: %s", ErrUnknownReceipt, strings.Join(unknown, ", "))
	}
	return nil
}

// consumerRows runs a consumer's write that returns (seq, receive_count)
// rows, as consumerExec does, and returns them as receipts.
func (t *Table) consumerRows(ctx context.Context, query string, args ...any) (map[string]bool, error) {
	var got map[string]bool
	err := t.consumerTx(ctx, func(tx *sql.Tx) error {
		got = map[string]bool{}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var count int
			if err := rows.Scan(&seq, &count); err != nil {
				return err
			}
			got[receipt(seq, count)] = true
		}
		return rows.Err()
	})
	return got, err
}

// ChangeVisibility makes a received message visible again after d (0 to 12 h).
func (t *Table) ChangeVisibility(ctx context.Context, r string, d time.Duration) error {
	if err := checkVisibility(d); err != nil {
		return err
	}
	seq, count, err := parseReceipt(r)
	if err != nil {
		return err
	}
	// The message may lie below the floor: the next receive reads from the
	// start. (Another process's receives find it within rescan.)
	t.floor.Store(0)
	res, err := t.consumerExec(ctx, `UPDATE queue_messages SET visible_at = $4 WHERE seq = $1 AND receive_count = $2 AND queue = $3`,
		seq, count, t.name, t.ms()+d.Milliseconds())
	if err != nil {
		return fmt.Errorf("change visibility of message %d in queue %s: %w", seq, t.name, err)
	}
	return oneRow(res, r)
}

// Rewrite replaces the body of a received message, its visibility and
// receive count unchanged: a consumer that handled some of a group's
// events (event.Group) keeps the others, so that only they come back and,
// in the end, move to the dead-letter queue. Lost in a crash of the
// database (see consumerExec), the whole group comes back, as at-least-once
// delivery allows.
func (t *Table) Rewrite(ctx context.Context, r string, body []byte) error {
	seq, count, err := parseReceipt(r)
	if err != nil {
		return err
	}
	res, err := t.consumerExec(ctx, `UPDATE queue_messages SET body = $4, events = $5 WHERE seq = $1 AND receive_count = $2 AND queue = $3`,
		seq, count, t.name, body, eventsIn(body))
	if err != nil {
		return fmt.Errorf("rewrite message %d in queue %s: %w", seq, t.name, err)
	}
	return oneRow(res, r)
}

// consumerExec runs a consumer's write: a delete or a visibility change.
// On PostgreSQL its commit does not wait for the WAL to reach the disk: a
// crash of the database may lose it, which brings the message back, as
// at-least-once delivery allows, and that wait is most of its cost. Sends
// stay durable: the relay deletes outbox rows once Send returns.
func (t *Table) consumerExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := t.consumerTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// readInOrder makes tx's reads of a queue in seq order, on PostgreSQL, read
// the index on (queue, seq) in order and stop at their limit, whatever the
// statistics say: they are taken when the queue is drained, as it is most
// of the time, and PostgreSQL, expecting a message or two, would as soon
// read every waiting message and sort them (a bitmap scan), which under a
// backlog costs each read the whole backlog. Sorts are off in tx.
func readInOrder(ctx context.Context, db *store.DB, tx *sql.Tx) error {
	if db.Dialect != store.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT `+sortsOff)
	return err
}

// sortsOff turns sorts off for the rest of the transaction (readInOrder).
const sortsOff = `set_config('enable_sort', 'off', true)`

// consumerTx runs fn in a transaction whose commit, on PostgreSQL, does not
// wait for the WAL (see consumerExec) and whose reads are in order
// (readInOrder). Its statements are planned once per connection, as the
// ledger's writer plans its own (ledger.pgWriter): a consumer runs the same
// few statements thousands of times a second, and planning each run added
// a fifth to its cost. With sorts and sequential scans off, the one
// plan is the index's, whatever the statistics said when it was made.
func (t *Table) consumerTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return t.db.Tx(ctx, func(tx *sql.Tx) error {
		if t.db.Dialect == store.Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'off', true), `+sortsOff+`,
				set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func oneRow(res sql.Result, receipt string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownReceipt, receipt)
	}
	return nil
}

// Stats counts both queues' messages by state, in events: a message that
// holds a commit's events (event.Group) counts as many, as they would on
// SQS, where the relay sends them one a message. A message never received
// whose visible_at is ahead is delayed; a received one is in flight.
func (t *Table) Stats(ctx context.Context) (Stats, error) {
	now := t.ms()
	rows, err := t.db.QueryContext(ctx, `SELECT queue,
			COALESCE(SUM(CASE WHEN visible_at <= $3 THEN events ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN visible_at > $3 AND receive_count > 0 THEN events ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN visible_at > $3 AND receive_count = 0 THEN events ELSE 0 END), 0),
			MIN(sent_at)
		FROM queue_messages WHERE queue IN ($1, $2) GROUP BY queue`, t.name, t.dlq, now)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of queue %s: %w", t.name, err)
	}
	defer rows.Close()
	var s Stats
	for rows.Next() {
		var (
			q      string
			d      Depth
			oldest sql.NullInt64
		)
		if err := rows.Scan(&q, &d.Visible, &d.InFlight, &d.Delayed, &oldest); err != nil {
			return Stats{}, fmt.Errorf("stats of queue %s: %w", t.name, err)
		}
		if oldest.Valid && oldest.Int64 < now {
			d.OldestAge = time.Duration(now-oldest.Int64) * time.Millisecond
		}
		if q == t.name {
			s.Main = d
		} else {
			s.DLQ = d
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("stats of queue %s: %w", t.name, err)
	}
	return s, nil
}

// eventsIn is how many events a message body holds: a group's (event.Group),
// or one, a malformed body's too.
func eventsIn(body []byte) int {
	if es, err := event.Split(body); err == nil {
		return len(es)
	}
	return 1
}

// Purge deletes every message of one queue, in flight or not.
func (t *Table) Purge(ctx context.Context, which Which) error {
	q, err := t.queueOf(which)
	if err != nil {
		return err
	}
	if _, err := t.db.ExecContext(ctx, `DELETE FROM queue_messages WHERE queue = $1`, q); err != nil {
		return fmt.Errorf("purge queue %s: %w", q, err)
	}
	return nil
}

func (t *Table) queueOf(which Which) (string, error) {
	switch which {
	case Main:
		return t.name, nil
	case DLQ:
		return t.dlq, nil
	}
	return "", fmt.Errorf("unknown queue %q: want main or dlq", which)
}

// redriveBatch bounds the rows one redrive transaction moves.
const redriveBatch = 500

// Redrive moves up to max dead-lettered messages (all when max <= 0) back
// to the main queue, oldest first, in transactions of a few hundred. Each
// comes back with a new message id and its receive count at zero; its
// body, with its event id, is unchanged.
func (t *Table) Redrive(ctx context.Context, max int) (int, error) {
	moved := 0
	for max <= 0 || moved < max {
		n := redriveBatch
		if max > 0 {
			n = min(n, max-moved)
		}
		var got int
		err := t.db.InTx(ctx, func(tx *sql.Tx) error {
			got = 0
			if err := readInOrder(ctx, t.db, tx); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, `SELECT seq, body, events FROM queue_messages WHERE queue = $1 ORDER BY seq LIMIT $2`+t.lock, t.dlq, n)
			if err != nil {
				return err
			}
			type msg struct {
				seq    int64
				body   []byte
				events int
			}
			var ms []msg
			for rows.Next() {
				var m msg
				if err := rows.Scan(&m.seq, &m.body, &m.events); err != nil {
					rows.Close()
					return err
				}
				ms = append(ms, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			now := t.ms()
			for _, m := range ms {
				if _, err := tx.ExecContext(ctx, `INSERT INTO queue_messages (id, queue, body, events, sent_at, visible_at) VALUES ($1, $2, $3, $4, $5, $5)`,
					bank.NewID(), t.name, m.body, m.events, now); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE queue = $1 AND seq = $2`, t.dlq, m.seq); err != nil {
					return err
				}
			}
			got = len(ms)
			return nil
		})
		if err != nil {
			return moved, fmt.Errorf("redrive %s to %s (after %d moved): %w", t.dlq, t.name, moved, err)
		}
		moved += got
		if got < n {
			break
		}
	}
	return moved, nil
}

// SetVisibilityTimeout changes the main queue's visibility timeout for
// every replica: each receive reads it from the queues table.
func (t *Table) SetVisibilityTimeout(ctx context.Context, d time.Duration) error {
	if err := checkVisibility(d); err != nil {
		return err
	}
	res, err := t.db.ExecContext(ctx, `UPDATE queues SET visibility_timeout_ms = $2 WHERE name = $1`, t.name, d.Milliseconds())
	if err != nil {
		return fmt.Errorf("set the visibility timeout of queue %s: %w", t.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.New("queue " + t.name + " does not exist")
	}
	return nil
}

// VisibilityTimeout reads the main queue's current visibility timeout.
func (t *Table) VisibilityTimeout(ctx context.Context) (time.Duration, error) {
	var ms int64
	if err := t.db.QueryRowContext(ctx, `SELECT visibility_timeout_ms FROM queues WHERE name = $1`, t.name).Scan(&ms); err != nil {
		return 0, fmt.Errorf("read the visibility timeout of queue %s: %w", t.name, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
