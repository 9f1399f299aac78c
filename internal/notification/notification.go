// Package notification is notification-service: it consumes the platform's
// events from the queue, tells the users they concern by email, SMS and
// webhook as each user prefers, and serves their notifications and
// preferences over HTTP.
//
// Delivery is exactly once per (event, recipient, channel) as far as the
// database can make it: every delivery is a row under a unique key, claimed
// with a short lease before it is sent and marked sent after. A message is
// deleted from the queue only when every one of its deliveries is done, so a
// failing channel leaves it for the queue to hand back and, after
// maxReceiveCount, to dead-letter; a redelivered or redriven message (same
// body, new message id) sends only what was not sent yet. The one window left
// is a crash between a channel accepting a message and its row being marked
// sent: that delivery is repeated, and carries the same delivery id
// (X-Bank-Delivery-Id, the email's Message-ID) so a receiver can tell.
package notification

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/lease"
	"github.com/fintech-banking/bank/internal/store"
)

// Channel is a way to reach a user.
type Channel string

// The channels.
const (
	Email   Channel = "email"
	SMS     Channel = "sms"
	Webhook Channel = "webhook"
)

// channels are the channels, in the order an event's deliveries are made.
var channels = []Channel{Email, SMS, Webhook}

// The statuses of a delivery.
const (
	StatusPending = "pending" // not delivered yet; attempts says how often it was tried
	StatusSent    = "sent"    // accepted by the SMTP server, SMS provider or webhook endpoint
	StatusLogged  = "logged"  // the channel is log-only (no BANK_SMTP_URL or BANK_SMS_URL)
)

// Config tunes the service. DefaultConfig gives working values; cmd/bank fills
// the channel addresses from BANK_SMTP_URL, BANK_SMTP_FROM and BANK_SMS_URL.
type Config struct {
	// SMTPURL is smtp://[user:password@]host:port (STARTTLS when the server
	// offers it) or smtps://… (TLS from the start); empty: email is log-only.
	SMTPURL string
	// From is the sender address of emails.
	From string
	// SMSURL is the SMS provider's endpoint, which takes a POST of
	// {"to","text","id"}; empty: SMS is log-only. It may carry the
	// provider's credentials (user:password@, sent as basic auth, or a key
	// in the query); it is never logged.
	SMSURL string

	// Workers is how many receive loops run; each handles one receive's
	// messages at a time, together.
	Workers int
	// Batch is how many events one receive takes, 1 to 1000 (a group, one
	// commit's events in one message, counts its events; SQS hands out at
	// most 10 messages of one event at a time). On the table queue a
	// receive's statements, round trips and commit cost about as much for
	// 500 events as for 100: draining a backlog 500 at a time took a third
	// less CPU an event on PostgreSQL, a fifth less on SQLite. After a
	// receive that had deliveries to send, a loop takes at most 100 (see
	// loop).
	Batch int
	// Wait is the long poll of one receive (SQS allows up to 20 s).
	Wait time.Duration
	// MessageTimeout bounds the handling of one receive's messages, every
	// delivery and retry included; what is not done by then is tried again
	// when the message comes back. Keep it under the queue's visibility
	// timeout.
	MessageTimeout time.Duration
	// Lease is how long a claimed delivery is left to its consumer before
	// another may take it over. It must outlast a message's handling (a
	// claim is given up by then, or recorded within the database timeout);
	// short, so a consumer killed mid-delivery holds its deliveries for less
	// than the receives a message gets before it is dead-lettered.
	Lease time.Duration
	// SendTimeout bounds one SMTP or SMS exchange and one webhook request.
	SendTimeout time.Duration
	// WebhookAttempts and WebhookBackoff shape the retries of a webhook
	// within one receive: attempt n waits a random time up to
	// WebhookBackoff·2^(n-1) first (full jitter). Together with SendTimeout
	// they must stay well under the queue's visibility timeout (SQS's
	// default is 30 s): the message is not extended while it is worked on.
	WebhookAttempts int
	WebhookBackoff  time.Duration
	// AllowPrivateWebhooks lets webhooks reach loopback, private and
	// link-local addresses. Off in production: a customer's webhook URL must
	// not become a way into the bank's own network. Tests and a laptop turn
	// it on.
	AllowPrivateWebhooks bool
	// Clock is what the consumer pauses on after a failed receive (nil: the
	// real clock).
	Clock clock.Clock
}

// DefaultConfig returns the production defaults: log-only email and SMS.
func DefaultConfig() Config {
	return Config{
		From:            "notifications@bank.invalid",
		Workers:         4,
		Batch:           500,
		Wait:            20 * time.Second,
		MessageTimeout:  20 * time.Second,
		Lease:           45 * time.Second,
		SendTimeout:     4 * time.Second,
		WebhookAttempts: 3,
		WebhookBackoff:  500 * time.Millisecond,
	}
}

// SettingError is a channel setting that cannot work; Setting names its
// environment variable.
type SettingError struct{ Setting, Problem string }

func (e *SettingError) Error() string { return e.Setting + " " + e.Problem }

// Validate reports the first setting that cannot work: a *SettingError for
// the channels' addresses.
func (c Config) Validate() error {
	if c.SMTPURL != "" {
		if _, err := parseSMTPURL(c.SMTPURL); err != nil {
			return &SettingError{"BANK_SMTP_URL", err.Error()}
		}
	}
	if c.SMSURL != "" {
		u, err := url.Parse(c.SMSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &SettingError{"BANK_SMS_URL", "must be an http:// or https:// URL"}
		}
	}
	if !validEmail(c.From) {
		return &SettingError{"BANK_SMTP_FROM", "must be one email address such as notifications@bank.example"}
	}
	switch {
	case c.Workers < 1 || c.Workers > 64:
		return errors.New("workers must be from 1 to 64")
	case c.Batch < 1 || c.Batch > 1000:
		return errors.New("batch must be from 1 to 1000")
	case c.Wait < 0 || c.Wait > 20*time.Second:
		return errors.New("wait must be from 0 to 20s")
	case c.SendTimeout <= 0:
		return errors.New("send timeout must be positive")
	case c.WebhookAttempts < 1 || c.WebhookAttempts > 10:
		return errors.New("webhook attempts must be from 1 to 10")
	case c.WebhookBackoff < 0:
		return errors.New("webhook backoff must not be negative")
	case c.MessageTimeout <= 0:
		return errors.New("message timeout must be positive")
	case c.Lease < c.MessageTimeout || c.Lease < c.budget():
		return fmt.Errorf("lease %s is shorter than a message's timeout %s or one delivery's budget %s", c.Lease, c.MessageTimeout, c.budget())
	}
	return nil
}

// budget is the longest one webhook delivery may take: every attempt timing
// out, and the longest wait before each retry.
func (c Config) budget() time.Duration {
	d := time.Duration(c.WebhookAttempts) * c.SendTimeout
	for n := 1; n < c.WebhookAttempts; n++ {
		d += c.WebhookBackoff << (n - 1)
	}
	return d
}

// Service is notification-service: its store, its channels and its consumer.
type Service struct {
	db       *store.DB
	log      *slog.Logger
	now      func() time.Time
	cfg      Config
	metrics  *Metrics
	users    Directory
	tmpl     *templates
	specs    map[string]spec
	mail     *mailer // nil: log-only
	sms      *texter // nil: log-only
	webhooks *webhookClient
	claims   *lease.Leases // of the notifications' rows
	instance string        // this consumer's name in claims

	// lastReceive is when a receive last answered (Unix nanoseconds), 0
	// before the consumer runs: Check reads it.
	lastReceive atomic.Int64
}

// New returns the service over db. metrics may be nil (tests that do not
// look at them).
func New(db *store.DB, log *slog.Logger, now func() time.Time, cfg Config, metrics *Metrics) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := newTemplates()
	if err != nil {
		return nil, err
	}
	s := &Service{db: db, log: log, now: now, cfg: cfg, metrics: metrics, users: auth.Directory{DB: db},
		tmpl: tmpl, specs: specs(), webhooks: newWebhookClient(cfg),
		claims: lease.New(db, claimColumns), instance: lease.Instance()}
	if cfg.SMTPURL != "" {
		s.mail, _ = newMailer(cfg) // validated above
	}
	if cfg.SMSURL != "" {
		s.sms = newTexter(cfg)
	}
	return s, nil
}
