package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// ScheduleInput repeats a payment every week on a weekday (Day 1 = Monday …
// 7 = Sunday) or every month on a day (1 to 31; the month's last day when it
// is shorter), until a date if given (YYYY-MM-DD, inclusive).
type ScheduleInput struct {
	Every string  `json:"every"`
	Day   int     `json:"day"`
	Until *string `json:"until,omitempty"`
}

func (in *ScheduleInput) check() error {
	switch in.Every {
	case "week":
		if in.Day < 1 || in.Day > 7 {
			return bank.Invalid("schedule.day", "must be 1 (Monday) to 7 (Sunday) for a weekly schedule")
		}
	case "month":
		if in.Day < 1 || in.Day > 31 {
			return bank.Invalid("schedule.day", "must be 1 to 31 for a monthly schedule")
		}
	default:
		return bank.Invalid("schedule.every", `must be "week" or "month"`)
	}
	if in.Until != nil {
		if _, err := time.Parse(time.DateOnly, *in.Until); err != nil {
			return bank.Invalid("schedule.until", "must be a date such as 2027-01-31")
		}
	}
	return nil
}

// schedule is a recurring payment: a template and the nominal date of its
// next occurrence.
type schedule struct {
	id    string
	tmpl  Payment
	every string
	day   int
	until string // "" for none
	from  string // no occurrence before this date
	next  string // the next nominal date to make; "" when it has ended
}

func newSchedule(p *Payment, in *ScheduleInput, from *time.Time, now time.Time) *schedule {
	s := &schedule{id: bank.NewID(), tmpl: *p, every: in.Every, day: in.Day, from: now.Format(time.DateOnly)}
	if in.Until != nil {
		s.until = *in.Until
	}
	if from != nil && from.UTC().Format(time.DateOnly) > s.from {
		s.from = from.UTC().Format(time.DateOnly)
	}
	return s
}

// occurrenceAt is one occurrence: its nominal date and when it runs (the
// start of the next business day on or after it, UTC).
type occurrenceAt struct {
	nominal string
	runAt   time.Time
}

func at(nominal string) occurrenceAt {
	d, _ := time.Parse(time.DateOnly, nominal)
	return occurrenceAt{nominal: nominal, runAt: businessDay(d)}
}

// businessDay moves a Saturday or Sunday to the Monday after.
func businessDay(d time.Time) time.Time {
	switch d.Weekday() {
	case time.Saturday:
		return d.AddDate(0, 0, 2)
	case time.Sunday:
		return d.AddDate(0, 0, 1)
	}
	return d
}

// onDay returns the date in d's month on the schedule's day, clamped to the
// month's last day.
func onDay(year int, month time.Month, day int) time.Time {
	last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(year, month, min(day, last), 0, 0, 0, 0, time.UTC)
}

// first returns the first nominal date on or after from.
func (s *schedule) first() string {
	from, _ := time.Parse(time.DateOnly, s.from)
	var d time.Time
	if s.every == "week" {
		iso := int(from.Weekday()+6)%7 + 1 // Monday 1 … Sunday 7
		d = from.AddDate(0, 0, (s.day-iso+7)%7)
	} else if d = onDay(from.Year(), from.Month(), s.day); d.Before(from) {
		d = onDay(from.Year(), from.Month()+1, s.day)
	}
	return s.bounded(d)
}

// after returns the nominal date that follows nominal.
func (s *schedule) after(nominal string) string {
	d, _ := time.Parse(time.DateOnly, nominal)
	if s.every == "week" {
		return s.bounded(d.AddDate(0, 0, 7))
	}
	return s.bounded(onDay(d.Year(), d.Month()+1, s.day))
}

func (s *schedule) bounded(d time.Time) string {
	n := d.Format(time.DateOnly)
	if s.until != "" && n > s.until {
		return ""
	}
	return n
}

// occurrence returns the schedule's first occurrence and sets what follows
// it; nil when until leaves none.
func (s *schedule) occurrence(time.Time) *occurrenceAt {
	f := s.first()
	if f == "" {
		return nil
	}
	s.next = s.after(f)
	o := at(f)
	return &o
}

func (s *schedule) insert(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payment_schedules (id, owner_id, from_account_id, amount, currency,
		beneficiary, reference, every, day, until_date, next_date, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		s.id, s.tmpl.OwnerID, s.tmpl.FromAccountID, s.tmpl.Amount, s.tmpl.Currency, string(mustJSON(s.tmpl.Beneficiary)),
		s.tmpl.Reference, s.every, s.day, null(s.until), null(s.next), s.tmpl.CreatedAt)
	return err
}

// lookahead is how early an occurrence is made, so a customer sees it
// coming; it runs at its own time.
const lookahead = 24 * time.Hour

// generate makes the occurrences of recurring payments that fall within
// lookahead, each exactly once: the payment's (schedule_id, occurrence) is
// unique, and the schedule moves on by compare-and-set.
func (s *Service) generate(ctx context.Context) error {
	now := s.clock()
	horizon := now.Add(lookahead).Format(time.DateOnly)
	rows, err := s.db.QueryContext(ctx, `SELECT id, owner_id, from_account_id, amount, currency, beneficiary, reference,
		every, day, until_date, next_date, created_at FROM payment_schedules WHERE next_date IS NOT NULL AND next_date <= $1
		ORDER BY next_date LIMIT $2`, horizon, s.cfg.BatchSize)
	if err != nil {
		return fmt.Errorf("find due schedules: %w", err)
	}
	var due []*schedule
	for rows.Next() {
		var sc schedule
		var benef string
		var until sql.NullString
		var created time.Time
		if err := rows.Scan(&sc.id, &sc.tmpl.OwnerID, &sc.tmpl.FromAccountID, &sc.tmpl.Amount, &sc.tmpl.Currency, &benef,
			&sc.tmpl.Reference, &sc.every, &sc.day, &until, &sc.next, &created); err != nil {
			rows.Close()
			return err
		}
		if err := jsonUnmarshal(benef, &sc.tmpl.Beneficiary); err != nil {
			rows.Close()
			return err
		}
		sc.until = until.String
		due = append(due, &sc)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	for _, sc := range due {
		o := at(sc.next)
		if o.runAt.After(now.Add(lookahead)) {
			continue // a weekend moved it beyond the horizon
		}
		p := sc.tmpl
		p.ID, p.Status, p.Rail = bank.NewID(), StatusScheduled, s.rail.Name()
		p.ScheduleID, p.occurrence, p.ScheduledFor = sc.id, o.nominal, &o.runAt
		p.History = []Change{{Status: StatusScheduled, At: now}}
		p.CreatedAt, p.UpdatedAt = now, now
		following := sc.after(o.nominal)
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE payment_schedules SET next_date = $3 WHERE id = $1 AND next_date = $2`,
				sc.id, o.nominal, null(following)); err != nil {
				return err
			}
			// The unique (schedule_id, occurrence) keeps a second maker out.
			if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, owner_id, from_account_id, amount, currency, beneficiary,
				reference, status, history, scheduled_for, schedule_id, occurrence, rail, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) ON CONFLICT DO NOTHING`,
				p.ID, p.OwnerID, p.FromAccountID, p.Amount, p.Currency, string(mustJSON(p.Beneficiary)), p.Reference,
				p.Status, string(mustJSON(p.History)), *p.ScheduledFor, p.ScheduleID, p.occurrence, p.Rail, now); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("schedule %s occurrence %s: %w", sc.id, o.nominal, err)
		}
	}
	return nil
}
