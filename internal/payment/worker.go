package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// The background work of payment-service, safe to run on every replica at
// once: the submitter claims pending payments with a lease (an UPDATE whose
// subquery skips rows other replicas have locked, on PostgreSQL), the poller
// applies the rail's outcomes, and the scheduler runs due and recurring
// payments and finishes what a crash left half done.

// Run runs the submitter, the poller and the scheduler until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, step func(context.Context) (int, error)) {
		defer wg.Done()
		for {
			// Drain: a full batch means more is waiting.
			for {
				n, err := step(ctx)
				if err != nil && ctx.Err() == nil {
					s.log.Warn("payment "+name, "err", err)
				}
				if err != nil || n < s.cfg.BatchSize {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-s.cfg.clock().After(every):
			}
		}
	}
	wg.Add(3)
	go loop("submitter", s.cfg.SubmitInterval, s.SubmitOnce)
	go loop("poller", s.cfg.PollInterval, s.PollOnce)
	go loop("scheduler", s.cfg.PollInterval, s.ScheduleOnce)
	wg.Wait()
	return nil
}

// claim leases up to BatchSize pending payments to this replica.
func (s *Service) claim(ctx context.Context) ([]*Payment, error) {
	lock := ""
	if s.isPostgres() {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	free := `status = 'pending' AND ` + s.leases.Free()
	rows, err := s.db.QueryContext(ctx, `UPDATE payments SET lease_owner = $1, lease_until = `+s.leases.Ends("$2")+`
		WHERE id IN (SELECT id FROM payments WHERE `+free+` ORDER BY created_at LIMIT $3`+lock+`)
		AND `+free+` RETURNING `+columns, s.instance, s.cfg.Lease.Milliseconds(), s.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("claim pending payments: %w", err)
	}
	defer rows.Close()
	var out []*Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		p.claimedBy = s.instance
		out = append(out, p)
	}
	return out, rows.Err()
}

// SubmitOnce hands one batch of pending payments to the rail and marks them
// submitted (or failed, those the rail cannot carry). It returns how many it
// claimed.
func (s *Service) SubmitOnce(ctx context.Context) (int, error) {
	batch, err := s.claim(ctx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	ins := make([]Instruction, len(batch))
	for i, p := range batch {
		ins[i] = Instruction{PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency, Beneficiary: p.Beneficiary, Reference: p.Reference}
	}
	// The rail call ends well within the lease, so no other replica takes
	// these payments over while it runs.
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	start := time.Now()
	receipts, err := s.rail.Submit(rctx, ins)
	cancel()
	if err != nil {
		return len(batch), fmt.Errorf("submit %d payments to %s: %w", len(batch), s.rail.Name(), err)
	}
	s.metrics.railCall("submit", time.Since(start))
	if s.afterSubmit != nil {
		if err := s.afterSubmit(); err != nil {
			return len(batch), err
		}
	}
	rejected := map[string]string{}
	for _, r := range receipts {
		if r.Rejected != "" {
			rejected[r.PaymentID] = r.Rejected
		}
	}
	var moves []*move
	var failed []*Payment
	for _, p := range batch {
		if _, ok := rejected[p.ID]; ok {
			failed = append(failed, p)
			continue
		}
		m, err := s.prepare(p, StatusSubmitted, "", nil)
		if err != nil {
			return len(batch), err
		}
		moves = append(moves, m)
	}
	// The whole batch is marked submitted in one transaction.
	if len(moves) > 0 {
		if _, err := s.transitionAll(ctx, moves); err != nil {
			return len(batch), err
		}
	}
	err = s.parallel(ctx, len(failed), func(i int) error {
		_, err := s.fail(ctx, failed[i], rejected[failed[i].ID])
		return err
	})
	return len(batch), err
}

// PollOnce applies one batch of the rail's outcomes and acknowledges those
// done with. It returns how many it read.
func (s *Service) PollOnce(ctx context.Context) (int, error) {
	outs, err := s.rail.Poll(ctx, s.cfg.BatchSize)
	if err != nil || len(outs) == 0 {
		return 0, err
	}
	done := make([]bool, len(outs))
	ids := make([]string, len(outs))
	for i, o := range outs {
		ids[i] = o.PaymentID
	}
	byID, err := s.loadMany(ctx, ids)
	if err != nil {
		return 0, err
	}
	// The common case, a submitted payment settling, goes in bulk: the
	// captures in parallel (the ledger posts them together), then one
	// transaction marks them all settled. Everything else goes one by one.
	var settle, rest []int
	for i, o := range outs {
		if p := byID[o.PaymentID]; p != nil && o.Kind == OutcomeSettled && p.Status == StatusSubmitted {
			settle = append(settle, i)
		} else {
			rest = append(rest, i)
		}
	}
	moves := make([]*move, len(settle))
	err = s.parallel(ctx, len(settle), func(k int) error {
		p := byID[outs[settle[k]].PaymentID]
		txID, err := s.capture(ctx, p)
		if err != nil {
			return err
		}
		moves[k], err = s.prepare(p, StatusSettled, "", func(next *Payment) { next.TransactionID = txID })
		return err
	})
	var ready []*move
	var readyAt []int
	for k, m := range moves {
		if m != nil {
			ready, readyAt = append(ready, m), append(readyAt, settle[k])
		}
	}
	if len(ready) > 0 {
		if _, terr := s.transitionAll(ctx, ready); terr != nil {
			err = errors.Join(err, terr)
		} else {
			for _, i := range readyAt {
				done[i] = true // settled now, or by another replica first
			}
		}
	}
	rerr := s.parallel(ctx, len(rest), func(k int) error {
		i := rest[k]
		ok, err := s.apply(ctx, outs[i])
		done[i] = ok
		return err
	})
	err = errors.Join(err, rerr)
	var acks []Outcome
	for i, o := range outs {
		if done[i] {
			acks = append(acks, o)
		}
	}
	if aerr := s.rail.Ack(ctx, acks); aerr != nil {
		err = errors.Join(err, aerr)
	}
	// Outcomes left for later do not make a full batch worth draining.
	return len(acks), err
}

// ScheduleOnce makes the occurrences of recurring payments that are due,
// runs the scheduled payments that came due, and resumes what a crash left
// half done. It returns how many payments it ran.
func (s *Service) ScheduleOnce(ctx context.Context) (int, error) {
	if err := s.generate(ctx); err != nil {
		return 0, err
	}
	now := s.clock()
	stale := now.Add(-s.cfg.ResumeAfter)
	ids, err := s.ids(ctx, `SELECT id FROM payments WHERE status = 'scheduled' AND scheduled_for <= $1
		ORDER BY scheduled_for LIMIT $2`, now, s.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	stuck, err := s.ids(ctx, `SELECT id FROM payments WHERE status = 'accepting' AND updated_at < $1 LIMIT $2`, stale, s.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	held, err := s.ids(ctx, `SELECT id FROM payments WHERE release_due AND updated_at < $1 LIMIT $2`, stale, s.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	err = s.parallel(ctx, len(ids)+len(stuck)+len(held), func(i int) error {
		var id string
		switch {
		case i < len(ids):
			id = ids[i]
		case i < len(ids)+len(stuck):
			id = stuck[i-len(ids)]
		default:
			id = held[i-len(ids)-len(stuck)]
		}
		resume := i >= len(ids)
		if resume {
			// What a crash left is resumed by one scheduler at a time.
			if ok, err := s.leases.Acquire(ctx, id, s.instance, s.cfg.ResumeAfter); err != nil || !ok {
				return err
			}
			defer func() { _, _ = s.leases.Release(context.WithoutCancel(ctx), id, s.instance) }()
		}
		p, err := s.load(ctx, id)
		if err != nil || p == nil {
			return err
		}
		if resume {
			p.claimedBy = s.instance
		}
		switch p.Status {
		case StatusScheduled:
			var ok bool
			if ok, err = s.transition(ctx, p, StatusAccepting, "", nil, nil); err != nil || !ok {
				return err
			}
			err = s.execute(ctx, p)
		case StatusAccepting:
			if i < len(ids) {
				return nil // found scheduled, now another replica's to run
			}
			err = s.execute(ctx, p)
		default:
			err = s.release(ctx, p)
		}
		if bank.ErrorCode(err) == "request_in_progress" {
			return nil // another replica is at it; whatever remains is resumed later
		}
		return err
	})
	return len(ids), err
}

// loadMany reads the payments ids, by id; missing ones are left out.
func (s *Service) loadMany(ctx context.Context, ids []string) (map[string]*Payment, error) {
	cond, arg := `id = ANY($1)`, any(ids)
	if !s.isPostgres() {
		cond, arg = `id IN (SELECT value FROM json_each($1))`, string(mustJSON(ids))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM payments WHERE `+cond, arg)
	if err != nil {
		return nil, fmt.Errorf("load payments: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*Payment, len(ids))
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out[p.ID] = p
	}
	return out, rows.Err()
}

// ids runs a query of payment ids.
func (s *Service) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find payments: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// parallel runs fn for 0…n-1 on up to Workers goroutines, so the ledger's
// group commit posts their money moves together. It returns every error.
func (s *Service) parallel(ctx context.Context, n int, fn func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(n, s.cfg.Workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
