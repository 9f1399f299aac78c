package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

// countingRail counts what each payment id was handed over, in front of
// another rail.
type countingRail struct {
	Rail
	mu    sync.Mutex
	calls map[string]int
}

func (r *countingRail) Submit(ctx context.Context, batch []Instruction) ([]Receipt, error) {
	r.mu.Lock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	for _, in := range batch {
		r.calls[in.PaymentID]++
	}
	r.mu.Unlock()
	return r.Rail.Submit(ctx, batch)
}

// TestCrashBetweenRailAndUpdate: a submitter dies after the rail took its
// batch and before it marked the payments submitted. After its lease
// another submitter hands them over again; the rail has each once, and each
// settles once.
func TestCrashBetweenRailAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		var ids []string
		for i := range 3 {
			ids = append(ids, e.create(fmt.Sprint("k", i), e.order(100)).ID)
		}
		crash := errors.New("killed")
		e.svc.afterSubmit = func() error { return crash }
		if _, err := e.svc.SubmitOnce(ctx); !errors.Is(err, crash) {
			t.Fatalf("first submitter: %v, want the crash", err)
		}
		restarted := e.service(e.rail)
		// Within the lease nobody takes them, and they cannot be cancelled.
		if n, err := restarted.SubmitOnce(ctx); n != 0 || err != nil {
			t.Fatalf("within the lease: claimed %d (%v), want 0", n, err)
		}
		if _, err := restarted.Cancel(ctx, e.alice, ids[0]); bank.ErrorCode(err) != "payment_in_progress" {
			t.Errorf("cancel while leased: %v, want payment_in_progress", err)
		}
		// The rail settles what it received; the poller waits for the
		// submitter rather than settle a payment not marked submitted.
		if _, err := restarted.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.get(ids[0]).Status; got != StatusPending {
			t.Fatalf("after a poll: %s, want still pending", got)
		}
		for _, id := range ids {
			if err := e.svc.leases.Expire(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		e.svc = restarted
		e.run()
		for _, id := range ids {
			got := e.get(id)
			if diff := cmp.Diff(statuses(got), []string{"pending", "submitted", "settled"}); diff != "" {
				t.Errorf("%s history (-got +want):\n%s", id, diff)
			}
			var rows int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_rail_sim WHERE payment_id = $1`, id).Scan(&rows); err != nil || rows != 1 {
				t.Errorf("%s: the rail recorded it %d times (%v), want once", id, rows, err)
			}
			if n, _ := e.rail.Attempts(ctx, id); n != 2 {
				t.Errorf("%s: handed over %d times, want 2 (before and after the crash)", id, n)
			}
			if got := e.events(id); len(got) != 2 {
				t.Errorf("%s: events %v, want one submitted and one settled", id, got)
			}
		}
		if b := e.balance(e.acct); b.Posted != 100_000-300 || b.Pending != 0 {
			t.Errorf("balance %+v, want 300 paid once", b)
		}
		e.verify()
	})
}

// TestStaleSubmitter: a submitter whose lease ran out while the rail took
// its batch, and was taken by another submitter meanwhile, marks nothing:
// the payment stays pending under the other's lease, whose submission
// decides it.
func TestStaleSubmitter(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		id := e.create("k", e.order(100)).ID
		stale, other := e.svc, e.service(e.rail)
		stale.afterSubmit = func() error {
			if err := stale.leases.Expire(ctx, id); err != nil {
				return err
			}
			if got, err := other.claim(ctx); err != nil || len(got) != 1 {
				return fmt.Errorf("the other submitter claimed %d, %v; want the payment", len(got), err)
			}
			return nil
		}
		if _, err := stale.SubmitOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.get(id).Status; got != StatusPending {
			t.Errorf("after the stale submitter: %s, want pending", got)
		}
		var owner sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT lease_owner FROM payments WHERE id = $1`, id).Scan(&owner); err != nil {
			t.Fatal(err)
		}
		if owner.String != other.instance {
			t.Errorf("lease owner %q, want the other submitter %q", owner.String, other.instance)
		}
	})
}

// TestOneSchedulerResumes: a payment a crash left half accepted is resumed
// by one scheduler at a time; the others leave it while its lease runs.
func TestOneSchedulerResumes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		pay := e.crashedAccepting("crashed", 700)
		e.clock.Advance(time.Minute)
		other := e.service(e.rail)
		if ok, err := other.leases.Acquire(ctx, pay.ID, other.instance, time.Hour); err != nil || !ok {
			t.Fatalf("the other scheduler takes the lease: %v, %v", ok, err)
		}
		status := func() string {
			t.Helper()
			p, err := e.svc.load(ctx, pay.ID)
			if err != nil {
				t.Fatal(err)
			}
			return p.Status
		}
		if _, err := e.svc.ScheduleOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != StatusAccepting {
			t.Errorf("while the other scheduler resumes it: %s, want accepting", got)
		}
		if ok, err := other.leases.Release(ctx, pay.ID, other.instance); err != nil || !ok {
			t.Fatalf("the other scheduler gives the lease up: %v, %v", ok, err)
		}
		if _, err := e.svc.ScheduleOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != StatusPending {
			t.Errorf("after the other scheduler gave it up: %s, want pending", got)
		}
	})
}

// TestConcurrentSubmitters: two submitters at once over 1,000 payments hand
// each to the rail exactly once.
func TestConcurrentSubmitters(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{Delay: time.Hour})
		const n = 1000
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if _, err := e.svc.Create(ctx, e.alice, idemOf(fmt.Sprint("c", i)), e.order(10)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rail := &countingRail{Rail: e.rail}
		a, b := e.service(rail), e.service(rail)
		a.cfg.BatchSize, b.cfg.BatchSize = 50, 50
		for _, s := range []*Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k, err := s.SubmitOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if k == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(rail.calls) != n {
			t.Errorf("the rail got %d payments, want %d", len(rail.calls), n)
		}
		for id, c := range rail.calls {
			if c != 1 {
				t.Errorf("payment %s handed over %d times", id, c)
			}
		}
		var submitted int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE status = 'submitted'`).Scan(&submitted); err != nil || submitted != n {
			t.Errorf("%d submitted (%v), want %d", submitted, err, n)
		}
		e.verify()
	})
}

func TestScheduled(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		when := e.clock.Now().Add(time.Hour)
		in := e.order(3_000)
		in.ScheduledFor = &when
		p := e.create("s1", in)
		later := e.create("s2", in)
		if p.Status != StatusScheduled || p.ScheduledFor == nil || !p.ScheduledFor.Equal(when) {
			t.Fatalf("created %+v, want scheduled for %v", p, when)
		}
		if b := e.balance(e.acct); b.Pending != 0 {
			t.Errorf("a scheduled payment holds %d before it runs", b.Pending)
		}
		if _, err := e.svc.Cancel(ctx, e.alice, later.ID); err != nil {
			t.Fatal(err)
		}
		e.run()
		if got := e.get(p.ID).Status; got != StatusScheduled {
			t.Fatalf("before its time: %s", got)
		}
		e.clock.Advance(time.Hour)
		e.run()
		if diff := cmp.Diff(statuses(e.get(p.ID)), []string{"scheduled", "pending", "submitted", "settled"}); diff != "" {
			t.Errorf("history (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(statuses(e.get(later.ID)), []string{"scheduled", "cancelled"}); diff != "" {
			t.Errorf("cancelled one (-got +want):\n%s", diff)
		}
		// One that cannot be paid when it comes due fails, nothing held.
		big := e.order(99_000)
		when = e.clock.Now().Add(time.Minute)
		big.ScheduledFor = &when
		q := e.create("s3", big)
		e.clock.Advance(time.Minute)
		e.run()
		got := e.get(q.ID)
		if got.Status != StatusFailed || got.FailureReason != "insufficient_funds" {
			t.Errorf("unpayable when due: %s %q, want failed insufficient_funds", got.Status, got.FailureReason)
		}
		if b := e.balance(e.acct); b.Pending != 0 || b.Posted != 97_000 {
			t.Errorf("balance %+v, want 3000 paid and nothing held", b)
		}
		e.verify()
	})
}

func TestRecurring(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		until := "2027-01-31"
		in := e.order(1_000)
		in.Schedule = &ScheduleInput{Every: "month", Day: 5, Until: &until}
		first := e.create("r1", in)
		// Today is Wednesday 2 December 2026: the 5th is a Saturday, so it
		// runs on Monday the 7th.
		if first.ScheduleID == "" || first.ScheduledFor == nil || first.ScheduledFor.Format(time.DateOnly) != "2026-12-07" {
			t.Fatalf("first occurrence %+v, want one on 2026-12-07", first)
		}
		other := e.service(e.rail) // a second replica generating at the same time
		for day := 0; day < 70; day++ {
			var wg sync.WaitGroup
			for _, s := range []*Service{e.svc, other} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.ScheduleOnce(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			e.run()
			e.clock.Advance(24 * time.Hour)
		}
		rows, err := db.QueryContext(ctx, `SELECT occurrence, scheduled_for, status FROM payments WHERE schedule_id = $1 ORDER BY occurrence`, first.ScheduleID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var occ, status string
			var at time.Time
			if err := rows.Scan(&occ, &at, &status); err != nil {
				t.Fatal(err)
			}
			got = append(got, occ+" "+at.UTC().Format(time.DateOnly)+" "+status)
		}
		want := []string{"2026-12-05 2026-12-07 settled", "2027-01-05 2027-01-05 settled"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("occurrences (-got +want):\n%s", diff)
		}
		if b := e.balance(e.acct); b.Posted != 98_000 {
			t.Errorf("posted %d, want two payments of 1000", b.Posted)
		}
		e.verify()
	})
}

func TestScheduleDates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		every, from string
		day         int
		want        []string
	}{
		{"month", "2027-01-15", 31, []string{"2027-01-31", "2027-02-28", "2027-03-31"}},
		{"month", "2027-01-31", 31, []string{"2027-01-31", "2027-02-28", "2027-03-31"}},
		{"week", "2026-12-02", 1, []string{"2026-12-07", "2026-12-14", "2026-12-21"}},
		{"week", "2026-12-02", 3, []string{"2026-12-02", "2026-12-09", "2026-12-16"}},
	}
	for _, tt := range tests {
		s := &schedule{every: tt.every, day: tt.day, from: tt.from}
		got := []string{s.first()}
		for len(got) < 3 {
			got = append(got, s.after(got[len(got)-1]))
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("%s day %d from %s (-got +want):\n%s", tt.every, tt.day, tt.from, diff)
		}
	}
	for in, want := range map[string]string{"2026-12-05": "2026-12-07", "2026-12-06": "2026-12-07", "2026-12-07": "2026-12-07"} {
		if got := at(in).runAt.Format(time.DateOnly); got != want {
			t.Errorf("business day of %s: %s, want %s", in, got, want)
		}
	}
}

// TestDueScheduledPaymentErrorReported: when running a due scheduled payment
// fails (here its daily total cannot be written), the scheduler says so
// instead of counting the payment as run.
func TestDueScheduledPaymentErrorReported(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, SimConfig{})
		when := e.clock.Now().Add(time.Hour)
		in := e.order(3_000)
		in.ScheduledFor = &when
		p := e.create("s1", in)
		if _, err := db.ExecContext(ctx, `DROP TABLE payment_daily_totals`); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		if _, err := e.svc.ScheduleOnce(ctx); err == nil {
			t.Errorf("ScheduleOnce ran %s with its daily total unwritable and reported no error", p.ID)
		}
	})
}
