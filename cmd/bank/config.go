package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/notification"
)

// Config is the configuration of the serving and database commands. Each field
// comes from a flag, else from its BANK_* environment variable, else from
// DefaultConfig.
type Config struct {
	HTTPAddr               string
	DatabaseURL            string
	DBMaxConns             int
	SQLiteSynchronous      string
	QueueURL               string
	SearchURL              string
	SearchIndex            string
	JWTSecretFile          string
	JWTSecret              string
	JWTPreviousSecretFile  string
	LogLevel               string
	Migrate                bool
	CompactIdempotencyKeys bool
	ShutdownDelay          time.Duration
	ShutdownTimeout        time.Duration
	DataDir                string
	DebugAddr              string
	JWTReloadInterval      time.Duration
	JWTSigningDelay        time.Duration
	MaintenancePoll        time.Duration
	CORSOrigins            string
	RateLimit              float64 // requests a second per caller; 0: no limit
	RateBurst              int
	IPRateLimit            float64 // requests a second per client address; 0: no limit
	IPRateBurst            int
	TrustedProxies         string
	ApprovalRules          string        // staff actions that need a second staff user (approval.ParseRules)
	ApprovalTTL            time.Duration // how long an approval waits before it expires
	APIURL                 string        // "serve web": the API the pages call
	APIHost                string        // "serve web": the Host header of its API requests, when not APIURL's
	ServiceURLs            string        // "serve web": NAME=URL,… of the services whose health and metrics the system page shows

	// payment-service
	PaymentRail           string // "sim" or "ach"
	PaymentLimit          int64  // default per-payment limit, minor units
	PaymentDailyLimit     int64  // default daily limit per account, minor units
	PaymentSubmitInterval time.Duration
	PaymentPollInterval   time.Duration
	PaymentSimDelay       time.Duration
	PaymentSimFailRate    float64
	PaymentSimReturnRate  float64
	PaymentSimSeed        int64
	ACHOutDir             string
	ACHReturnDir          string
	ACHOrigin             string // the originating bank's ABA routing number
	ACHCompanyName        string
	ACHCompanyID          string
	ACHSettleDelay        time.Duration

	// notification-service
	SMTPURL              string // notification email: smtp://host:port; empty: log only
	SMTPFrom             string
	SMSURL               string // notification SMS provider; empty: log only
	WebhookAllowPrivate  bool   // let webhooks reach private addresses (tests, laptops)
	NotificationConsumer bool   // run the notification consumer where notification-service runs
	NotificationWorkers  int    // receive loops of the consumer; 0: 1 on SQLite, 2 on PostgreSQL
}

// DefaultConfig is what a bare machine gets: SQLite under ./data, :8080.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:          ":8080",
		DatabaseURL:       "sqlite://./data/bank.db",
		SQLiteSynchronous: "NORMAL",
		QueueURL:          "db",
		SearchIndex:       "transactions",
		LogLevel:          "info",
		Migrate:           true,
		ShutdownTimeout:   25 * time.Second,
		DataDir:           "./data",
		JWTReloadInterval: 5 * time.Second,
		JWTSigningDelay:   2 * time.Minute,
		MaintenancePoll:   2 * time.Second,
		RateLimit:         100,
		RateBurst:         200,
		IPRateBurst:       400,
		ApprovalTTL:       24 * time.Hour,
		ServiceURLs:       defaultServiceURLs(),

		PaymentRail:           "sim",
		PaymentLimit:          1_000_000_00,
		PaymentDailyLimit:     5_000_000_00,
		PaymentSubmitInterval: time.Second,
		PaymentPollInterval:   time.Second,
		PaymentSimDelay:       2 * time.Second,
		PaymentSimFailRate:    0.02,
		PaymentSimReturnRate:  0.01,
		PaymentSimSeed:        1,
		ACHOutDir:             "./data/ach/outbound",
		ACHReturnDir:          "./data/ach/returns",
		ACHOrigin:             "011000015",
		ACHCompanyName:        "FINTECH BANK",
		ACHCompanyID:          "1234567890",

		SMTPFrom:             notification.DefaultConfig().From,
		NotificationConsumer: true,

		// Every release since migration 0009 reads keys in both forms.
		CompactIdempotencyKeys: true,
	}
}

// setting binds one Config field to its flag and environment variable.
type setting struct {
	flag, env, help string
	set             func(string) error
	value           func() string
}

func (c *Config) settings() []setting {
	str := func(p *string) (func(string) error, func() string) {
		return func(s string) error { *p = s; return nil }, func() string { return *p }
	}
	dur := func(p *time.Duration) (func(string) error, func() string) {
		return func(s string) error {
				d, err := time.ParseDuration(s)
				if err != nil || d < 0 {
					return errors.New("must be a duration such as 5s")
				}
				*p = d
				return nil
			}, func() string {
				return p.String()
			}
	}
	var out []setting
	add := func(flag, env, help string, set func(string) error, value func() string) {
		out = append(out, setting{flag, env, help, set, value})
	}
	s, v := str(&c.HTTPAddr)
	add("http-addr", "BANK_HTTP_ADDR", "listen address", s, v)
	s, v = str(&c.DatabaseURL)
	add("database-url", "BANK_DATABASE_URL", "postgres://… or sqlite:///abs/path or sqlite://./rel/path", s, v)
	add("db-max-conns", "BANK_DB_MAX_CONNS", "connection pool size (0: 16 on PostgreSQL, 8 on SQLite)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			return errors.New("must be an integer from 0 to 1000")
		}
		c.DBMaxConns = n
		return nil
	}, func() string { return strconv.Itoa(c.DBMaxConns) })
	s, v = str(&c.SQLiteSynchronous)
	add("sqlite-synchronous", "BANK_SQLITE_SYNCHRONOUS", "SQLite synchronous pragma: NORMAL or FULL", s, v)
	s, v = str(&c.QueueURL)
	add("queue-url", "BANK_QUEUE_URL", `"db" or an SQS queue URL`, s, v)
	s, v = str(&c.SearchURL)
	add("search-url", "BANK_SEARCH_URL", "OpenSearch URL for transaction search (empty: the database's own index)", s, v)
	s, v = str(&c.SearchIndex)
	add("search-index", "BANK_SEARCH_INDEX", "the OpenSearch index of the transactions", s, v)
	s, v = str(&c.JWTSecretFile)
	add("jwt-secret-file", "BANK_JWT_SECRET_FILE", "file holding the jwt-secret key (re-read when it changes)", s, v)
	s, v = str(&c.JWTSecret)
	add("jwt-secret", "BANK_JWT_SECRET", "the jwt-secret key itself (prefer the file)", s, v)
	s, v = str(&c.JWTPreviousSecretFile)
	add("jwt-previous-secret-file", "BANK_JWT_PREVIOUS_SECRET_FILE", "file holding the key before the last rotation", s, v)
	s, v = str(&c.LogLevel)
	add("log-level", "BANK_LOG_LEVEL", "debug, info, warn or error", s, v)
	boolean := func(p *bool) (func(string) error, func() string) {
		return func(s string) error {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("must be true or false")
			}
			*p = b
			return nil
		}, func() string { return strconv.FormatBool(*p) }
	}
	s, v = str(&c.ApprovalRules)
	add("approval-rules", "BANK_APPROVAL_RULES", "staff actions held for a second staff user's approval, such as deposit>1000000,withdrawal>1000000,reversal,overdraft_limit,unfreeze (none when empty)", s, v)
	s, v = dur(&c.ApprovalTTL)
	add("approval-ttl", "BANK_APPROVAL_TTL", "how long an approval waits before it expires", s, v)
	s, v = boolean(&c.Migrate)
	add("migrate", "BANK_MIGRATE", "apply migrations at start-up (false where a Job runs them)", s, v)
	s, v = boolean(&c.CompactIdempotencyKeys)
	add("compact-idempotency-keys", "BANK_COMPACT_IDEMPOTENCY_KEYS",
		"keep a transfer's idempotency key as its transaction's id, not a copy of the answer (false only before a rollback to a release older than migration 0009)", s, v)
	d, dv := dur(&c.ShutdownDelay)
	add("shutdown-delay", "BANK_SHUTDOWN_DELAY", "after SIGTERM, how long to keep serving with readiness DOWN before closing", d, dv)
	d, dv = dur(&c.ShutdownTimeout)
	add("shutdown-timeout", "BANK_SHUTDOWN_TIMEOUT", "how long in-flight requests get to finish", d, dv)
	d, dv = dur(&c.JWTReloadInterval)
	add("jwt-reload-interval", "BANK_JWT_RELOAD_INTERVAL", "how often the jwt-secret files are re-read", d, dv)
	d, dv = dur(&c.JWTSigningDelay)
	add("jwt-signing-delay", "BANK_JWT_SIGNING_DELAY", "how long a new jwt-secret key waits, the previous key signing meanwhile, so every replica has read it", d, dv)
	d, dv = dur(&c.MaintenancePoll)
	add("maintenance-poll", "BANK_MAINTENANCE_POLL", "how often the maintenance mode is read from the database", d, dv)
	s, v = str(&c.DebugAddr)
	add("debug-addr", "BANK_DEBUG_ADDR", "listen address of /debug/pprof (off when empty; never expose it)", s, v)
	s, v = str(&c.CORSOrigins)
	add("cors-origins", "BANK_CORS_ORIGINS", "comma-separated browser origins allowed to call the API (none when empty)", s, v)
	s, v = str(&c.DataDir)
	add("data-dir", "BANK_DATA_DIR", "folder of the embedded mode's generated files", s, v)
	rate := func(p *float64) (func(string) error, func() string) {
		return func(s string) error {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1e9 {
				return errors.New("must be a number of requests a second, 0 for no limit")
			}
			*p = f
			return nil
		}, func() string { return strconv.FormatFloat(*p, 'f', -1, 64) }
	}
	burst := func(p *int) (func(string) error, func() string) {
		return func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1e9 {
				return errors.New("must be a whole number of requests, at least 1")
			}
			*p = n
			return nil
		}, func() string { return strconv.Itoa(*p) }
	}
	s, v = rate(&c.RateLimit)
	add("rate-limit", "BANK_RATE_LIMIT", "requests a second each caller may make to the API (0: no limit)", s, v)
	s, v = burst(&c.RateBurst)
	add("rate-burst", "BANK_RATE_BURST", "requests a caller may make at once above the rate", s, v)
	s, v = rate(&c.IPRateLimit)
	add("ip-rate-limit", "BANK_IP_RATE_LIMIT", "requests a second each client address may make (0: no limit; behind a proxy, set BANK_TRUSTED_PROXIES first)", s, v)
	s, v = burst(&c.IPRateBurst)
	add("ip-rate-burst", "BANK_IP_RATE_BURST", "requests a client address may make at once above the rate", s, v)
	s, v = str(&c.APIURL)
	add("api-url", "BANK_API_URL", `"serve web" alone: the API the pages call, such as http://account-service:8080 behind one Service or Ingress`, s, v)
	s, v = str(&c.APIHost)
	add("api-host", "BANK_API_HOST", `"serve web" alone: the host its API requests name, when --api-url is the Ingress controller's own address (empty: --api-url's host)`, s, v)
	add("service-urls", "BANK_SERVICE_URLS", `"serve web" alone: the services whose health (/actuator/health) and metrics (/actuator/prometheus) the console's system page shows, NAME=URL,… (the Kubernetes Services by default)`,
		func(s string) error {
			if _, err := parseServices(strings.Split(s, ",")); err != nil {
				return errors.New("must be NAME=http://HOST:PORT,… (one or more)")
			}
			c.ServiceURLs = s
			return nil
		}, func() string { return c.ServiceURLs })
	s, v = str(&c.TrustedProxies)
	add("trusted-proxies", "BANK_TRUSTED_PROXIES", "comma-separated CIDRs of the proxies whose X-Forwarded-For is believed", s, v)
	s, v = str(&c.SMTPURL)
	add("smtp-url", "BANK_SMTP_URL", "notification email server: smtp://[user:password@]host:port or smtps://… (log only when empty)", s, v)
	s, v = str(&c.SMTPFrom)
	add("smtp-from", "BANK_SMTP_FROM", "sender address of notification emails", s, v)
	s, v = str(&c.SMSURL)
	add("sms-url", "BANK_SMS_URL", "notification SMS provider endpoint, POSTed {to, text, id} (log only when empty)", s, v)
	add("webhook-allow-private", "BANK_WEBHOOK_ALLOW_PRIVATE", "let customers' webhooks reach loopback and private addresses (never in production)", func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("must be true or false")
		}
		c.WebhookAllowPrivate = b
		return nil
	}, func() string { return strconv.FormatBool(c.WebhookAllowPrivate) })
	add("notification-consumer", "BANK_NOTIFICATION_CONSUMER", "consume the queue where notification-service runs (false: serve its API only, and leave the queue alone)", func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("must be true or false")
		}
		c.NotificationConsumer = b
		return nil
	}, func() string { return strconv.FormatBool(c.NotificationConsumer) })
	add("notification-workers", "BANK_NOTIFICATION_WORKERS", "receive loops of the notification consumer, each handling up to 500 events at a time, 10 on SQS (0: 1 on SQLite, 2 on PostgreSQL)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 64 {
			return errors.New("must be a number from 0 to 64")
		}
		c.NotificationWorkers = n
		return nil
	}, func() string { return strconv.Itoa(c.NotificationWorkers) })
	minor := func(p *int64) (func(string) error, func() string) {
		return func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 || n > 1_000_000_000_000_000 {
				return errors.New("must be an amount in minor units from 1 to 10^15")
			}
			*p = n
			return nil
		}, func() string { return strconv.FormatInt(*p, 10) }
	}
	share := func(p *float64) (func(string) error, func() string) {
		return func(s string) error {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1 {
				return errors.New("must be a share from 0 to 1")
			}
			*p = f
			return nil
		}, func() string { return strconv.FormatFloat(*p, 'f', -1, 64) }
	}
	s, v = str(&c.PaymentRail)
	add("payment-rail", "BANK_PAYMENT_RAIL", `where payments go: "sim" (simulated) or "ach" (NACHA files)`, s, v)
	s, v = minor(&c.PaymentLimit)
	add("payment-limit", "BANK_PAYMENT_LIMIT", "default largest payment, in minor units (operators set one per account)", s, v)
	s, v = minor(&c.PaymentDailyLimit)
	add("payment-daily-limit", "BANK_PAYMENT_DAILY_LIMIT", "default most an account may pay a day (UTC), in minor units", s, v)
	d, dv = dur(&c.PaymentSubmitInterval)
	add("payment-submit-interval", "BANK_PAYMENT_SUBMIT_INTERVAL", "how often pending payments are handed to the rail", d, dv)
	d, dv = dur(&c.PaymentPollInterval)
	add("payment-poll-interval", "BANK_PAYMENT_POLL_INTERVAL", "how often the rail's outcomes are applied and due payments run", d, dv)
	d, dv = dur(&c.PaymentSimDelay)
	add("payment-sim-delay", "BANK_PAYMENT_SIM_DELAY", "simulated rail: time to settle or fail, and from settlement to a return", d, dv)
	s, v = share(&c.PaymentSimFailRate)
	add("payment-sim-fail-rate", "BANK_PAYMENT_SIM_FAIL_RATE", "simulated rail: share of payments that fail", s, v)
	s, v = share(&c.PaymentSimReturnRate)
	add("payment-sim-return-rate", "BANK_PAYMENT_SIM_RETURN_RATE", "simulated rail: share of payments returned after settling", s, v)
	add("payment-sim-seed", "BANK_PAYMENT_SIM_SEED", "simulated rail: the seed that picks which payments fail or return", func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("must be an integer")
		}
		c.PaymentSimSeed = n
		return nil
	}, func() string { return strconv.FormatInt(c.PaymentSimSeed, 10) })
	s, v = str(&c.ACHOutDir)
	add("ach-out-dir", "BANK_ACH_OUT_DIR", "ACH rail: folder the NACHA files of submitted batches are written to", s, v)
	s, v = str(&c.ACHReturnDir)
	add("ach-return-dir", "BANK_ACH_RETURN_DIR", "ACH rail: folder return files are read from (moved to processed/ once read)", s, v)
	s, v = str(&c.ACHOrigin)
	add("ach-origin", "BANK_ACH_ORIGIN", "ACH rail: the bank's ABA routing number (ODFI)", s, v)
	s, v = str(&c.ACHCompanyName)
	add("ach-company-name", "BANK_ACH_COMPANY_NAME", "ACH rail: company name of the batches", s, v)
	s, v = str(&c.ACHCompanyID)
	add("ach-company-id", "BANK_ACH_COMPANY_ID", "ACH rail: company identification (10 characters)", s, v)
	d, dv = dur(&c.ACHSettleDelay)
	add("ach-settle-delay", "BANK_ACH_SETTLE_DELAY", "ACH rail: how long after its file an entry counts as settled", d, dv)
	return out
}

// load fills c from the environment, then from args parsed by fs; names
// limits the settings to those the command uses. An error names the setting
// as the user gave it: the flag when it was on the command line, else the
// environment variable.
func (c *Config) load(fs *flag.FlagSet, args []string, getenv func(string) string, names ...string) error {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	byEnv := map[string]string{}
	for _, s := range c.settings() {
		if len(names) > 0 && !want[s.flag] {
			continue
		}
		byEnv[s.env] = s.flag
		if v := getenv(s.env); v != "" {
			if err := s.set(v); err != nil {
				return fmt.Errorf("%s=%q: %v", s.env, v, err)
			}
		}
		s := s
		help := s.help + " ($" + s.env
		if d := s.value(); d != "" && d != "0" && d != "0s" {
			help += ", default " + d
		}
		fs.Func(s.flag, help+")", func(v string) error { return s.set(v) })
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// The embedded database lives in the data folder unless placed elsewhere.
	if _, ok := byEnv["BANK_DATA_DIR"]; ok && !given["database-url"] && getenv("BANK_DATABASE_URL") == "" {
		c.DatabaseURL = "sqlite://" + strings.TrimSuffix(c.DataDir, "/") + "/bank.db"
	}
	// A flag whose value cannot work is a mistake on the command line:
	// exit 2, as for an unknown flag. A bad environment is a failure to
	// start (1), as a missing database is.
	err := c.Validate()
	var se *settingError
	if errors.As(err, &se) && given[byEnv[se.env]] {
		return usagef("--%s %s", byEnv[se.env], se.problem)
	}
	return err
}

// settingError is a setting that cannot work: Error names its environment
// variable; load names the flag instead when the flag was given.
type settingError struct{ env, problem string }

func (e *settingError) Error() string { return e.env + " " + e.problem }

func badSetting(env, format string, args ...any) error {
	return &settingError{env, fmt.Sprintf(format, args...)}
}

// Validate reports the first setting that cannot work, naming it.
func (c *Config) Validate() error {
	switch {
	case !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") &&
		!strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		return badSetting("BANK_DATABASE_URL", "must start with postgres:// or sqlite://")
	case c.SQLiteSynchronous != "NORMAL" && c.SQLiteSynchronous != "FULL":
		return badSetting("BANK_SQLITE_SYNCHRONOUS", "must be NORMAL or FULL")
	case c.QueueURL != "db" && !strings.HasPrefix(c.QueueURL, "https://") && !strings.HasPrefix(c.QueueURL, "http://"):
		return badSetting("BANK_QUEUE_URL", `must be "db" or an SQS queue URL`)
	case c.SearchURL != "" && !strings.HasPrefix(c.SearchURL, "https://") && !strings.HasPrefix(c.SearchURL, "http://"):
		return badSetting("BANK_SEARCH_URL", "must be empty or an http(s):// OpenSearch URL")
	case !validIndexName(c.SearchIndex):
		return badSetting("BANK_SEARCH_INDEX", "must be 1 to 100 characters of a-z, 0-9, - and _, not starting with - or _")
	case c.JWTSecretFile != "" && c.JWTSecret != "":
		return errors.New("set BANK_JWT_SECRET_FILE (--jwt-secret-file) or BANK_JWT_SECRET (--jwt-secret), not both")
	case c.JWTReloadInterval <= 0:
		return badSetting("BANK_JWT_RELOAD_INTERVAL", "must be a positive duration such as 5s")
	case c.MaintenancePoll <= 0:
		return badSetting("BANK_MAINTENANCE_POLL", "must be a positive duration such as 2s")
	case c.HTTPAddr == "":
		return badSetting("BANK_HTTP_ADDR", "must not be empty")
	case c.PaymentRail != "sim" && c.PaymentRail != "ach":
		return badSetting("BANK_PAYMENT_RAIL", `must be "sim" or "ach"`)
	case c.PaymentDailyLimit < c.PaymentLimit:
		return badSetting("BANK_PAYMENT_DAILY_LIMIT", "must be at least BANK_PAYMENT_LIMIT")
	case c.PaymentSubmitInterval <= 0 || c.PaymentPollInterval <= 0:
		return badSetting("BANK_PAYMENT_SUBMIT_INTERVAL", "and BANK_PAYMENT_POLL_INTERVAL must be positive durations")
	case c.PaymentSimFailRate+c.PaymentSimReturnRate > 1:
		return badSetting("BANK_PAYMENT_SIM_RETURN_RATE", "plus BANK_PAYMENT_SIM_FAIL_RATE must be at most 1")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return badSetting("BANK_HTTP_ADDR", "must be HOST:PORT or :PORT, not %q", c.HTTPAddr)
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return badSetting("BANK_DEBUG_ADDR", "must be HOST:PORT or :PORT, not %q", c.DebugAddr)
		}
	}
	if _, err := approval.ParseRules(c.ApprovalRules); err != nil {
		return badSetting("BANK_APPROVAL_RULES", "%v", err)
	}
	if c.ApprovalTTL <= 0 {
		return badSetting("BANK_APPROVAL_TTL", "must be a positive duration such as 24h")
	}
	if _, err := httpapi.ParseProxies(c.TrustedProxies); err != nil {
		return badSetting("BANK_TRUSTED_PROXIES", "%v", err)
	}
	if _, err := httpapi.ParseOrigins(c.CORSOrigins); err != nil {
		return badSetting("BANK_CORS_ORIGINS", "%v", err)
	}
	if err := c.notification().Validate(); err != nil {
		var se *notification.SettingError
		if errors.As(err, &se) {
			return badSetting(se.Setting, "%s", se.Problem)
		}
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return badSetting("BANK_LOG_LEVEL", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return nil
}

// notification is notification-service's configuration.
func (c *Config) notification() notification.Config {
	n := notification.DefaultConfig()
	n.SMTPURL, n.From, n.SMSURL, n.AllowPrivateWebhooks = c.SMTPURL, c.SMTPFrom, c.SMSURL, c.WebhookAllowPrivate
	return n
}

// embedded reports whether the database is the embedded SQLite one.
func (c *Config) embedded() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite://") }

// databaseLocation says where a database URL points, for the start-up log:
// the absolute file of a SQLite database, the host and database name of a
// PostgreSQL one (never its password).
func databaseLocation(raw string) string {
	if path, ok := strings.CutPrefix(raw, "sqlite://"); ok {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
		return path
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Host + u.Path
}

// validIndexName reports whether s is an OpenSearch index name this
// platform accepts: lower case letters, digits, - and _.
func validIndexName(s string) bool {
	if s == "" || len(s) > 100 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
