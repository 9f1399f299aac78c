package notification

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/store"
)

// dbTimeout bounds every statement of the service: database/sql would wait
// for a connection for as long as its context lasts.
const dbTimeout = 10 * time.Second

// Directory finds the users events name (auth.Directory). Users that do
// not exist (any more) are left out of Lookup's answer.
type Directory interface {
	Lookup(ctx context.Context, userIDs []string) (map[string]auth.Contact, error)
}

// Preferences are a user's choice of channels. Without a stored choice a
// user gets email only.
type Preferences struct {
	Email      bool      `json:"email"`
	SMS        bool      `json:"sms"`
	Phone      string    `json:"phone,omitempty"`
	WebhookURL string    `json:"webhook_url,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`

	webhookSecret string
}

func defaultPreferences() Preferences { return Preferences{Email: true} }

// preferencesOf reads the preferences of each of userIDs, the defaults for
// those who never chose, in one query.
func (s *Service) preferencesOf(ctx context.Context, userIDs []string) (map[string]Preferences, error) {
	out := make(map[string]Preferences, len(userIDs))
	for _, id := range userIDs {
		out[id] = defaultPreferences()
	}
	if len(userIDs) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	in, args := store.In(s.db, "user_id", userIDs)
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, email, sms, phone, webhook_url, webhook_secret, updated_at
		FROM notification_preferences WHERE `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("read the preferences of %d users: %w", len(userIDs), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p Preferences
		if err := rows.Scan(&id, &p.Email, &p.SMS, &p.Phone, &p.WebhookURL, &p.webhookSecret, &p.UpdatedAt); err != nil {
			return nil, fmt.Errorf("read the preferences of %d users: %w", len(userIDs), err)
		}
		p.UpdatedAt = p.UpdatedAt.UTC()
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the preferences of %d users: %w", len(userIDs), err)
	}
	return out, nil
}

// preferences reads userID's preferences, or the defaults.
func (s *Service) preferences(ctx context.Context, userID string) (Preferences, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	p := Preferences{}
	err := s.db.QueryRowContext(ctx, `SELECT email, sms, phone, webhook_url, webhook_secret, updated_at
		FROM notification_preferences WHERE user_id = $1`, userID).
		Scan(&p.Email, &p.SMS, &p.Phone, &p.WebhookURL, &p.webhookSecret, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return defaultPreferences(), nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("read preferences of %s: %w", userID, err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// savePreferences stores p for userID. A webhook secret is made when a
// webhook URL is set and there is none yet, or rotate asks for a new one; it
// is returned (only then) so the user can be shown it once. Removing the
// webhook URL removes the secret.
func (s *Service) savePreferences(ctx context.Context, userID string, p Preferences, rotate bool) (Preferences, string, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var secret string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		secret = ""
		var old string
		err := tx.QueryRowContext(ctx, `SELECT webhook_secret FROM notification_preferences WHERE user_id = $1`, userID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		p.webhookSecret = old
		switch {
		case p.WebhookURL == "":
			p.webhookSecret = ""
		case old == "" || rotate:
			secret = newSecret()
			p.webhookSecret = secret
		}
		p.UpdatedAt = s.now().UTC()
		_, err = tx.ExecContext(ctx, `INSERT INTO notification_preferences (user_id, email, sms, phone, webhook_url, webhook_secret, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, sms = excluded.sms, phone = excluded.phone,
				webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret, updated_at = excluded.updated_at`,
			userID, p.Email, p.SMS, p.Phone, p.WebhookURL, p.webhookSecret, p.UpdatedAt)
		return err
	})
	if err != nil {
		return Preferences{}, "", fmt.Errorf("save preferences of %s: %w", userID, err)
	}
	return p, secret, nil
}

// newSecret returns a webhook signing secret: 32 random bytes, hex, with a
// prefix that says what it is when it turns up in a config file.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + hex.EncodeToString(b[:])
}

// Notification is one delivery as its user sees it.
type Notification struct {
	ID        string     `json:"id"`
	Event     string     `json:"event"`
	EventID   string     `json:"event_id"`
	Channel   Channel    `json:"channel"`
	Status    string     `json:"status"`
	Subject   string     `json:"subject"`
	Attempts  int        `json:"attempts"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// delivery is the key of one notification row.
type delivery struct {
	eventID, eventType, userID string
	channel                    Channel
	subject                    string
}

// claimResult says what claim found.
type claimResult int

const (
	claimed claimResult = iota // the caller delivers, then calls finish
	done                       // already delivered: nothing to do
	busy                       // another consumer holds the lease
)

// claimColumns are the claims of the notifications' rows.
var claimColumns = lease.Columns{Table: "notifications", Key: "id", Owner: "claimed_by", Until: "claimed_until"}

// claim makes d's row if it is new and takes its claim if it is still
// pending and nobody's claim runs. It returns the row's id.
func (s *Service) claim(ctx context.Context, d delivery) (string, claimResult, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	now := s.now().UTC()
	var (
		id     string
		result claimResult
	)
	err := store.Retry(ctx, store.Retryable, func() error {
		// One statement: a new row is made claimed; an existing one is
		// claimed only if still pending and nobody's claim runs.
		err := s.db.QueryRowContext(ctx, `INSERT INTO notifications (id, event_id, event_type, user_id, channel, status, subject,
				attempts, claimed_by, claimed_until, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'pending', $6, 1, $7, `+s.claims.Ends("$8")+`, $9, $9)
			ON CONFLICT (event_id, user_id, channel) DO UPDATE SET claimed_by = excluded.claimed_by,
				claimed_until = excluded.claimed_until, attempts = notifications.attempts + 1, updated_at = excluded.updated_at
			WHERE notifications.status = 'pending' AND `+s.claims.Free()+`
			RETURNING id`,
			bank.NewID(), d.eventID, d.eventType, d.userID, string(d.channel), d.subject,
			s.instance, s.cfg.Lease.Milliseconds(), now).Scan(&id)
		if err == nil {
			result = claimed
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var status string
		if err := s.db.QueryRowContext(ctx, `SELECT id, status FROM notifications WHERE event_id = $1 AND user_id = $2 AND channel = $3`,
			d.eventID, d.userID, string(d.channel)).Scan(&id, &status); err != nil {
			return err
		}
		result = busy
		if status != StatusPending {
			result = done
		}
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("claim %s delivery of event %s to %s: %w", d.channel, d.eventID, d.userID, err)
	}
	return id, result, nil
}

// recordLogged records deliveries on log-only channels as logged, through
// db (the database, or the transaction that consumes their messages):
// nothing leaves the process, so they need no claim. A delivery recorded
// before (a message received again) is left as it is, unless fresh: then
// the deliveries are written with a plain insert, which costs PostgreSQL a
// third less, and one recorded before fails the statement with a unique
// violation.
func (s *Service) recordLogged(ctx context.Context, db execer, ds []delivery, fresh bool) error {
	if len(ds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	now := s.now().UTC()
	_, inTx := db.(*sql.Tx)
	skip := ` ON CONFLICT (event_id, user_id, channel) DO NOTHING`
	if fresh {
		skip = ""
	}
	// One statement whatever the batch's size: on PostgreSQL its columns
	// as arrays; on SQLite its rows as one JSON array, which SQLite reads
	// faster than it binds a prepared row at a time.
	const insert = `INSERT INTO notifications (id, event_id, event_type, user_id, channel, subject, status, attempts, created_at, updated_at, sent_at) `
	var (
		query string
		args  []any
	)
	if s.db.Dialect == store.SQLite {
		rows := make([][6]string, len(ds))
		for i, d := range ds {
			rows[i] = [6]string{bank.NewID(), d.eventID, d.eventType, d.userID, string(d.channel), d.subject}
		}
		js, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("record %d log-only deliveries: %w", len(ds), err)
		}
		if skip != "" {
			skip = ` WHERE true` + skip // SQLite reads ON CONFLICT after a SELECT only past a WHERE
		}
		query = insert + `SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, 'logged', 1, $2, $2, $2 FROM json_each($1)` + skip
		args = []any{string(js), now}
	} else {
		cols := make([][]string, 6)
		for _, d := range ds {
			for i, v := range []string{bank.NewID(), d.eventID, d.eventType, d.userID, string(d.channel), d.subject} {
				cols[i] = append(cols[i], v)
			}
		}
		query = insert + `SELECT v.*, 'logged', 1, $7::timestamptz, $7, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS v` + skip
		args = []any{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], now}
	}
	record := func() error {
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("record %d log-only deliveries: %w", len(ds), err)
		}
		return nil
	}
	if inTx {
		return record() // the transaction's owner retries it whole
	}
	return store.Retry(ctx, store.Retryable, record)
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// finish records the outcome of a claimed delivery and gives up its claim:
// status sent or logged, or still pending with the error that kept it so.
func (s *Service) finish(ctx context.Context, d delivery, deliverErr error, status string) error {
	// A delivery that went out must be recorded even when the message's
	// context ran out meanwhile, or it would go out again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	now := s.now().UTC()
	return store.Retry(ctx, store.Retryable, func() error {
		var err error
		if deliverErr != nil {
			msg := deliverErr.Error()
			if len(msg) > 500 {
				msg = msg[:500]
			}
			// Only while the claim is still this consumer's: one that ran
			// out was taken by another, whose attempt it must not end.
			_, err = s.db.ExecContext(ctx, `UPDATE notifications SET last_error = $4, claimed_until = NULL, updated_at = $5
				WHERE event_id = $1 AND user_id = $2 AND channel = $3 AND `+s.claims.Owned("$6"),
				d.eventID, d.userID, string(d.channel), cleanText(msg), now, s.instance)
		} else {
			// Whoever holds the claim now: it went out, and is recorded so
			// that nobody sends it again.
			_, err = s.db.ExecContext(ctx, `UPDATE notifications SET status = $4, last_error = '', claimed_until = NULL, sent_at = $5, updated_at = $5
				WHERE event_id = $1 AND user_id = $2 AND channel = $3`, d.eventID, d.userID, string(d.channel), status, now)
		}
		if err != nil {
			return fmt.Errorf("record %s delivery of event %s to %s: %w", d.channel, d.eventID, d.userID, err)
		}
		return nil
	})
}

// List returns one page of userID's notifications, newest event first
// (event ids are time-ordered), and the cursor of the next page ("" on the
// last). A cursor this API did not make is KindInvalid.
func (s *Service) List(ctx context.Context, userID string, limit int, after string) ([]Notification, string, error) {
	c, err := decodeListCursor(after)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	// The unique index (user_id, event_id, channel), read backwards.
	q := `SELECT id, event_type, event_id, channel, status, subject, attempts, created_at, sent_at FROM notifications WHERE user_id = $1`
	args := []any{userID}
	if c != nil {
		q += ` AND (event_id, channel) < ($2, $3)`
		args = append(args, c.EventID, string(c.Channel))
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY event_id DESC, channel DESC LIMIT $%d`, len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		var (
			n      Notification
			sentAt sql.NullTime
		)
		if err := rows.Scan(&n.ID, &n.Event, &n.EventID, &n.Channel, &n.Status, &n.Subject, &n.Attempts, &n.CreatedAt, &sentAt); err != nil {
			return nil, "", fmt.Errorf("list notifications: %w", err)
		}
		n.CreatedAt = n.CreatedAt.UTC()
		if sentAt.Valid {
			t := sentAt.Time.UTC()
			n.SentAt = &t
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list notifications: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, bank.EncodeCursor(listCursor{EventID: last.EventID, Channel: last.Channel}), nil
}

// listCursor is the position after a page's last notification.
type listCursor struct {
	EventID string  `json:"e"`
	Channel Channel `json:"c"`
}

// decodeListCursor reads a cursor List answered with; "" is the first page
// (nil).
func decodeListCursor(s string) (*listCursor, error) {
	if s == "" {
		return nil, nil
	}
	var c listCursor
	if !bank.ReadCursor(s, &c) || bank.CheckID("cursor", c.EventID) != nil || !slices.Contains(channels, c.Channel) {
		return nil, bank.Invalid("cursor", "is not a cursor this API returned")
	}
	return &c, nil
}
