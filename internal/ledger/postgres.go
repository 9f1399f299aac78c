package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/idem"
	"github.com/fintech-banking/bank/internal/store"
)

// pgWriter is the write path on PostgreSQL. Only the holder of the committer
// token uses it, so it needs one connection of its own, set up for this work:
//   - generic plans, with sequential scans off: the write path's statements
//     are planned once, and a plan made while a table was small can never turn
//     into a scan of the table once it is big (force_custom_plan would instead
//     plan every statement of every batch);
//   - two pipelined round trips per batch: BEGIN and every read in one, every
//     write and COMMIT in the other. Whatever the batch size, the database is
//     visited twice and flushes its WAL once.
type pgWriter struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

func newPGWriter(pool *pgxpool.Pool) *pgWriter {
	cfg := pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	cfg.RuntimeParams["enable_seqscan"] = "off"
	return &pgWriter{cfg: cfg}
}

// run runs b over reqs in one transaction on the writer's connection,
// connecting first if it has none. When the connection breaks on the way,
// the error wraps store.ErrConnLost: the transaction may or may not have
// committed, and the next attempt opens a new connection.
func (w *pgWriter) run(ctx context.Context, b *batch, reqs []*request) ([]reply, error) {
	if w.conn == nil || w.conn.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, w.cfg)
		if err != nil {
			return nil, fmt.Errorf("connect the ledger writer: %w", err)
		}
		registerArrays(c.TypeMap())
		w.conn = c
	}
	pb := &pgBatch{ctx: ctx, conn: w.conn}
	replies, err := b.run(reqs, pb)
	if err == nil || pb.committed {
		return replies, err
	}
	// Roll back whatever is open. A connection that cannot even do that is
	// dropped.
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rerr := w.conn.Exec(rctx, "ROLLBACK"); rerr != nil {
		w.drop()
		return nil, fmt.Errorf("%w: %w", store.ErrConnLost, err)
	}
	return nil, err
}

// drop closes the writer's connection, if any, and forgets it.
func (w *pgWriter) drop() {
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.conn.Close(ctx)
	w.conn = nil
}

// pgBatch is one batch's transaction on the writer's connection.
type pgBatch struct {
	ctx       context.Context
	conn      *pgx.Conn
	committed bool
}

func pgxQuery(conn *pgx.Conn) query {
	return func(ctx context.Context, s string, args ...any) (rows, func(), error) {
		rs, err := conn.Query(ctx, s, args...)
		if err != nil {
			return nil, nil, err
		}
		return rs, rs.Close, nil
	}
}

const (
	// pgStoredSQL probes the primary key once per (user, key) pair. Two
	// "= ANY" arrays would probe every user with every key, and a plain join
	// may be planned as a scan of the table; OFFSET 0 keeps the subquery a
	// parameterized index lookup.
	pgStoredSQL = `SELECT i.* FROM unnest($1::text[], $2::text[]) AS v(u, k),
		LATERAL (` + idem.SelectSQL + `user_id = v.u AND key = v.k OFFSET 0) AS i`
	lockHoldsSQL    = holdsSQL + `id = ANY($1) ORDER BY id FOR UPDATE`
	lockAccountsSQL = accountsSQL + `id = ANY($1) ORDER BY id FOR NO KEY UPDATE`
)

// writesSQL writes a batch's balances, transactions, postings, events and
// idempotency keys, each set-based over arrays; an empty array writes
// nothing. A transaction's metadata travels as text, NULL when it has none,
// and becomes jsonb in the insert; its accounts' owners (search) travel
// joined by the unit separator, which no id holds, and become text[]. "AND a.id = ANY($2)" keeps the planner on the accounts' primary
// key: joined to an unnest of more than a few dozen rows it would otherwise
// scan the table.
const writesSQL = `WITH balances AS (
		UPDATE accounts a SET posted = v.posted, pending = v.pending
		FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS v(id, posted, pending)
		WHERE a.id = v.id AND a.id = ANY($2)
	), transactions AS (
		INSERT INTO transactions (id, type, amount, currency, description, created_by, reverses_id, hold_id, metadata, owner_ids, created_at)
		SELECT v.id, v.type, v.amount, v.currency, v.description, v.created_by, v.reverses_id, v.hold_id, v.metadata::jsonb,
			string_to_array(v.owners, chr(31)), $1::timestamptz
		FROM unnest($5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $27::text[], $29::text[])
		AS v(id, type, amount, currency, description, created_by, reverses_id, hold_id, metadata, owners)
	), postings AS (
		INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
		SELECT v.*, $1::timestamptz FROM unnest($13::text[], $14::text[], $15::bigint[], $16::text[]) AS v
	), events AS (
		` + event.Insert + `SELECT v.id, v.body, $25::bigint, v.queue, v.events, 0
		FROM unnest($17::text[], $18::bytea[], $28::text[], $30::int[]) AS v(id, body, queue, events)
	)
	INSERT INTO idempotency_keys (` + idem.Columns + `, created_at)
	SELECT v.*, $1::timestamptz FROM unnest($19::text[], $20::text[], $21::text[], $22::int[], $26::text[], $23::bytea[], $24::text[]) AS v`

func (s *pgBatch) load(b *batch, p *loadPlan) error {
	var pipe pgx.Batch
	pipe.Queue("BEGIN")
	if len(p.keys) > 0 {
		pipe.Queue(pgStoredSQL, p.users, p.keys)
	}
	holds := sortedUnique(p.holdIDs)
	if len(holds) > 0 {
		pipe.Queue(lockHoldsSQL, holds)
	}
	// The accounts' lock comes after the holds', as everywhere.
	accounts := sortedUnique(p.accountIDs)
	if len(accounts) > 0 {
		pipe.Queue(lockAccountsSQL, accounts)
	}
	br := s.conn.SendBatch(s.ctx, &pipe)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		scan := func(what string, fn func(rows) error) error {
			rs, err := br.Query()
			if err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
			defer rs.Close()
			if err := fn(rs); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
			return nil
		}
		if len(p.keys) > 0 {
			if err := scan("idempotency keys", func(rs rows) error { return scanStored(b, p, rs) }); err != nil {
				return err
			}
		}
		if len(holds) > 0 {
			if err := scan("holds", func(rs rows) error { return scanHolds(b, rs) }); err != nil {
				return err
			}
		}
		if len(accounts) > 0 {
			return scan("accounts", func(rs rows) error { return scanAccounts(b, rs) })
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if ids := sortedUnique(p.txIDs); len(ids) > 0 {
		txs, err := loadTransactions(s.ctx, pgxQuery(s.conn), store.Postgres, ids)
		if err != nil {
			return err
		}
		for _, t := range txs {
			b.originals[t.ID] = t
		}
		rs, err := s.conn.Query(s.ctx, `SELECT reverses_id FROM transactions WHERE reverses_id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		defer rs.Close()
		return scanReversed(b, rs)
	}
	return nil
}

func (s *pgBatch) transactions(ids []string) ([]*Transaction, error) {
	return loadTransactions(s.ctx, pgxQuery(s.conn), store.Postgres, ids)
}

func (s *pgBatch) lockAccounts(b *batch, ids []string) error {
	if ids = sortedUnique(ids); len(ids) == 0 {
		return nil
	}
	rs, err := s.conn.Query(s.ctx, lockAccountsSQL, ids)
	if err != nil {
		return fmt.Errorf("lock accounts: %w", err)
	}
	defer rs.Close()
	return scanAccounts(b, rs)
}

// write sends every write of the batch and its COMMIT in one pipeline.
// Balances are written as absolute values: the batch holds their rows' locks.
// The writes every money movement makes go in one statement, writesSQL:
// PostgreSQL's fixed cost is per statement, and a batch of few transfers
// (several committers share the load) pays it once instead of five times.
func (s *pgBatch) write(b *batch) error {
	var pipe pgx.Batch
	ids, posted, pending := b.dirtyAccounts()
	n := len(b.txs)
	id, typ, cur, desc, by := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rev, hold, md, amt := make([]*string, n), make([]*string, n), make([]*string, n), make([]int64, n)
	owners := make([]string, n)
	var pTx, pAcct, pCur []string
	var pAmt []int64
	for i, t := range b.txs {
		id[i], typ[i], cur[i], desc[i], by[i], amt[i] = t.ID, t.Type, string(t.Currency), t.Description, t.createdBy, t.Amount
		rev[i], hold[i], md[i] = nullable(t.ReversesID), nullable(t.HoldID), t.Metadata.Stored()
		owners[i] = strings.Join(b.ownerIDs(t), "\x1f")
		for _, p := range t.Postings {
			pTx, pAcct, pCur, pAmt = append(pTx, t.ID), append(pAcct, p.AccountID), append(pCur, string(t.Currency)), append(pAmt, p.Amount)
		}
	}
	msgs := event.Group(b.events)
	n = len(msgs)
	eID, eBody, eQueue, eCount := make([]string, n), make([][]byte, n), make([]string, n), make([]int32, n)
	for i, e := range msgs {
		eID[i], eBody[i], eQueue[i], eCount[i] = e.ID, e.Payload, e.QueueName(), int32(e.Count())
	}
	n = len(b.keys)
	kUser, kKey, kHash, kBody, kStatus, kTx := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n), make([]int32, n), make([]*string, n)
	kOutcome := make([]string, n)
	for i, k := range b.keys {
		kUser[i], kKey[i], kHash[i], kBody[i], kTx[i] = k.User, k.Key, k.Hash, k.Body, nullable(k.TransactionID)
		kOutcome[i], kStatus[i] = string(k.Outcome), k.Outcome.LegacyStatus()
	}
	pipe.Queue(writesSQL, b.now, ids, posted, pending,
		id, typ, amt, cur, desc, by, rev, hold,
		pTx, pAcct, pAmt, pCur,
		eID, eBody,
		kUser, kKey, kHash, kStatus, kBody, kTx, b.now.UnixMilli(), kOutcome, md, eQueue, owners, eCount)
	for _, h := range b.newHolds {
		pipe.Queue(insertHoldSQL, h.ID, h.AccountID, h.Amount, h.CapturedAmount, string(h.Currency), h.Status,
			h.Description, h.createdBy, h.ExpiresAt, h.CreatedAt, h.updatedAt, h.Metadata.Stored())
	}
	for _, h := range b.holdsDone {
		pipe.Queue(`UPDATE holds SET captured = $2, status = $3, updated_at = $4 WHERE id = $1`,
			h.ID, h.CapturedAmount, h.Status, h.updatedAt)
	}
	for _, a := range b.audits {
		pipe.Queue(audit.InsertSQL, a.Args(b.now)...)
	}
	pipe.Queue("COMMIT")
	br := s.conn.SendBatch(s.ctx, &pipe)
	var err error
	for range pipe.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	s.committed = true
	return nil
}
