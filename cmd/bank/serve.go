package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/account"
	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/payment"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/recon"
	"github.com/fintech-banking/bank/internal/search"
	"github.com/fintech-banking/bank/internal/search/opensearch"
	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/transaction"
	"github.com/fintech-banking/bank/internal/web"
)

// services are the parts "bank serve" can run alone, one Kubernetes Deployment each.
var services = []string{"auth", "account", "transaction", "payment", "notification"}

// serve runs service ("all" or one of services) until ctx ends, then shuts
// down gracefully: readiness turns DOWN at once, the server keeps serving for
// ShutdownDelay (while Kubernetes stops routing to the pod), then stops
// accepting and lets in-flight requests finish within ShutdownTimeout.
func serve(ctx context.Context, service string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if service == "web" {
		return serveWeb(ctx, args, getenv, stdout)
	}
	if service != "all" && !slices.Contains(services, service) {
		return usagef("unknown service %q: want all, auth, account, transaction, payment, notification or web", service)
	}
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("serve "+service, flag.ContinueOnError)
	fs.SetOutput(stdout)
	if err := cfg.load(fs, args, getenv); err != nil {
		return err
	}
	log, err := observe.NewLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		// The heap is small and memory is not: collecting at 4× the live
		// heap instead of 2× halves the CPU the collector takes under load.
		debug.SetGCPercent(400)
	}
	started := time.Now()
	app := "bank"
	if service != "all" {
		app = service + "-service"
	}
	// The listeners come first: a taken port is found before anything is
	// migrated or generated.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	var dln net.Listener
	if cfg.DebugAddr != "" {
		if dln, err = net.Listen("tcp", cfg.DebugAddr); err != nil {
			return fmt.Errorf("listen on %s (debug): %w", cfg.DebugAddr, err)
		}
		defer dln.Close()
	}
	keys, err := keyring(&cfg, log)
	if err != nil {
		return err
	}
	log = observe.WithService(log, app)
	db, err := openDB(ctx, &cfg, app, cfg.Migrate, log)
	if err != nil {
		return err
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(jwtKeys{keys})
	metrics := observe.NewMetrics(reg)
	business := observe.NewBusiness(reg)
	observe.RegisterPool(reg, db)
	registerLimits(reg)
	health := observe.NewHealth(2 * time.Second)
	health.Log = log
	health.AddCheck("db", databaseCheck(db))
	// The queue: events are written into it (the table queue) or forwarded
	// to it by the relay (SQS), the notification consumer receives from it. Its depths are read at scrape time through
	// a short cache; it shows in /actuator/health but not in readiness:
	// the services write their events to the outbox and ride out an outage.
	q, err := openQueue(ctx, &cfg, db, log, queue.NewMetrics(reg))
	if err != nil {
		return err
	}
	queueStatsCache := queue.NewStatsCache(q, 5*time.Second, time.Now)
	reg.MustRegister(observe.NewQueueCollector(queueStats(q.Name, queueStatsCache.Stats), 2*time.Second))
	health.AddStatusCheck("queue", func(ctx context.Context) error {
		_, err := queueStatsCache.Stats(ctx)
		return err
	})
	// Events are written straight into the table queue; with SQS the relay
	// forwards them.
	rc := queue.DefaultRelayConfig()
	rc.Forward = cfg.QueueURL != "db"
	relay := queue.NewRelay(db, q, log, rc, queue.NewRelayMetrics(reg, db))
	mux := http.NewServeMux()
	observe.NewActuator(reg, health).Routes(mux)
	// Every service checks tokens against their users' current state; a
	// change made by this process's auth-service applies here at once.
	states := auth.NewUserStates(db, auth.UserStateTTL, time.Now)
	authenticate := auth.Middleware(auth.NewVerifier(keys, time.Now).CheckUsers(states, log), log)
	perCaller := httpapi.Throttle(cfg.RateLimit, cfg.RateBurst, func(r *http.Request) string {
		p, _ := auth.FromContext(r.Context())
		return p.UserID
	}, log, time.Now)
	authn := func(h http.Handler) http.Handler { return authenticate(perCaller(h)) }
	runs := service == "all"
	// Transaction search: the database's own index, or OpenSearch fed from
	// the events the ledger then copies to the search queue.
	searchIdx, err := openSearchIndex(&cfg)
	if err != nil {
		return err
	}
	var l *ledger.Ledger
	var authSvc *auth.Service
	if runs || service == "auth" {
		authSvc, err = auth.NewService(db, keys, auth.DefaultConfig(), time.Now, log)
		if err != nil {
			return err
		}
		auth.Routes(mux, log, authSvc.Notify(states), authn)
	}
	if runs || service == "account" || service == "transaction" || service == "payment" {
		lc := ledger.DefaultConfig()
		lc.Metrics = ledger.NewMetrics(reg)
		lc.CompactKeys = cfg.CompactIdempotencyKeys
		lc.SearchQueue = searchIdx != nil
		l = ledger.New(db, log, time.Now, lc)
	}
	var gate *approval.Service
	if runs || service == "account" || service == "transaction" {
		rules, _ := approval.ParseRules(cfg.ApprovalRules) // validated with the config
		gate = approval.New(db, l, log, clock.Real(), approval.Config{Rules: rules, TTL: cfg.ApprovalTTL})
	}
	if runs || service == "account" {
		account.Routes(mux, log, l, gate, auth.Directory{DB: db}, account.DefaultIssuer(), authn)
	}
	if runs || service == "transaction" {
		var idx search.Index // nil: the ledger's own
		if searchIdx != nil {
			idx = searchIdx
		}
		transaction.Routes(business.Router(mux), log, l, gate, idx, authn)
		approval.Routes(business.Router(mux), log, gate, authn)
		recon.Routes(mux, log, recon.New(db, l, gate, log, time.Now), authn)
	}
	var payments *payment.Service
	if runs || service == "payment" {
		rail, err := paymentRail(&cfg, db)
		if err != nil {
			return err
		}
		payments = payment.New(db, l, rail, log, time.Now, payment.Config{PerPaymentLimit: cfg.PaymentLimit,
			DailyLimit: cfg.PaymentDailyLimit, SubmitInterval: cfg.PaymentSubmitInterval,
			PollInterval: cfg.PaymentPollInterval}, payment.NewMetrics(reg))
		payment.Routes(business.Router(mux), log, payments, authn)
	}
	var notify *notification.Service
	if runs || service == "notification" {
		ncfg := cfg.notification()
		switch {
		case cfg.NotificationWorkers > 0:
			ncfg.Workers = cfg.NotificationWorkers
		case db.Dialect == store.SQLite:
			// One receive loop: SQLite has one writer, which the ledger
			// needs more; a receive's messages are still handled together.
			ncfg.Workers = 1
		default:
			// Few loops, each taking what has gathered since its last
			// receive: fewer, fuller receives cost the database less.
			ncfg.Workers = 2
		}
		if notify, err = notification.New(db, log, time.Now, ncfg, notification.NewMetrics(reg)); err != nil {
			return err
		}
		notification.Routes(mux, log, notify, authn)
	}
	maintenance := ops.NewMaintenanceWatch(db, log)
	if runs || service == "notification" {
		// The staff's system endpoints: notification-service's, as the
		// queue is, and what the console's system page calls.
		ops.SystemRoutes(mux, log, &ops.System{DB: db, Queues: []ops.NamedQueue{{Name: q.Name, Queue: q}},
			Watch: maintenance, Now: time.Now}, authn)
	}

	// The indexer runs beside the ledger's committer; its lag is exported
	// by every process (0 when search is the database's own, always in step).
	var indexer *opensearch.Indexer
	var searchLag func(context.Context) (queue.Stats, error)
	if searchIdx != nil && l != nil && (runs || service == "transaction") {
		sq, err := openSearchQueue(ctx, db)
		if err != nil {
			return err
		}
		indexer = opensearch.NewIndexer(sq, searchIdx, log, opensearch.IndexerConfig{})
		searchLag = queue.NewStatsCache(sq, 5*time.Second, time.Now).Stats
	}
	opensearch.NewLagMetric(reg, searchLag)

	// MaintenanceMode (deploy/monitoring) fires on it and holds the
	// error-rate alerts while planned 503s are answered.
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bank_maintenance_mode",
		Help: "1 while the platform is in maintenance (every API request answered 503), else 0"}, func() float64 {
		if maintenance.State().On {
			return 1
		}
		return 0
	}))
	api := httpapi.Maintenance(func() (bool, string, time.Duration) {
		m := maintenance.State()
		return m.On, m.Message, m.RetryAfter
	}, log, httpapi.JSONMux(mux))
	origins, _ := httpapi.ParseOrigins(cfg.CORSOrigins) // validated with the config
	perAddress := httpapi.Throttle(cfg.IPRateLimit, cfg.IPRateBurst, httpapi.ClientIP, log, time.Now)
	proxies, _ := httpapi.ParseProxies(cfg.TrustedProxies) // validated with the config
	apiHandler := httpapi.TrustProxies(proxies)(httpapi.Wrap(perAddress(httpapi.CORS(origins)(api)), log, metrics))
	handler := apiHandler
	if runs {
		// The pages call the API in this process, through the same
		// handler a request from outside meets (limits, maintenance,
		// metrics): no loopback port to find, no TLS to configure, and
		// the API sees each browser's own address.
		wc := web.DefaultConfig()
		inProcess := &http.Client{Timeout: 30 * time.Second, Transport: web.InProcess(apiHandler)}
		wc.API = client.New("http://bank.internal", inProcess)
		wc.TrustedProxies, wc.Log = proxies, log
		wc.Maintenance = func() (bool, string, time.Duration) {
			m := maintenance.State()
			return m.On, m.Message, m.RetryAfter
		}
		// The system page reads this process as a web server alone reads
		// each service: the API for queues and maintenance, the Actuator
		// for health and metrics.
		wc.System = &web.Platform{Services: []web.Service{{Name: "bank", URL: "http://bank.internal"}}, HTTP: inProcess, Now: time.Now}
		pages, err := web.New(wc)
		if err != nil {
			return err
		}
		handler = withPages(apiHandler, httpapi.WrapPages(pages.Handler(), log, metrics))
	}
	srv := httpapi.NewServer(cfg.HTTPAddr, handler, log)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(httpapi.JSONErrors(ln)); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		health.SetReady(false)
		log.Info("shutting down", "delay", cfg.ShutdownDelay.String(), "timeout", cfg.ShutdownTimeout.String())
		time.Sleep(cfg.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shut down http: %w", err)
		}
		return nil
	})
	g.Go(func() error { keys.Watch(gctx, cfg.JWTReloadInterval); return nil })
	g.Go(func() error { maintenance.Run(gctx, cfg.MaintenancePoll); return nil })
	// Every serve runs the relay: the lease lets one replica publish at a
	// time, and events (and an earlier release's outbox) drain while any
	// replica of any service runs.
	g.Go(func() error { return relay.Run(gctx) })
	if cfg.DebugAddr != "" {
		dbg := &http.Server{Addr: cfg.DebugAddr, Handler: debugMux(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := dbg.Serve(dln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve debug: %w", err)
			}
			return nil
		})
		g.Go(func() error { <-gctx.Done(); return dbg.Close() })
	}
	if authSvc != nil {
		g.Go(func() error { authSvc.Run(gctx, 10*time.Minute); return nil })
	}
	if l != nil && (runs || service == "transaction") {
		g.Go(func() error { return l.Run(gctx) })
		g.Go(func() error { return gate.Run(gctx) })
		check := observe.NewInvariantCheck(reg, l.CheckBalances, time.Minute, log, time.Now)
		g.Go(func() error { return check.Run(gctx) })
	}
	if indexer != nil {
		g.Go(func() error { return indexer.Run(gctx) })
	}
	if notify != nil && cfg.NotificationConsumer {
		health.AddStatusCheck("notificationConsumer", notify.Check)
		g.Go(func() error { return notify.Run(gctx, q.Queue) })
	}
	if payments != nil {
		// The submitter, the settlement poller and the scheduler; every
		// replica runs them (leases and compare-and-set keep them apart).
		g.Go(func() error { return payments.Run(gctx) })
	}
	health.SetReady(true)
	log.Info("serving", "service", service, "addr", ln.Addr().String(), "database", string(db.Dialect),
		"database_location", databaseLocation(cfg.DatabaseURL),
		"version", version, "startup_ms", time.Since(started).Milliseconds())
	err = g.Wait()
	if l != nil {
		l.Close()
	}
	log.Info("stopped", "service", service)
	return err
}

// withPages serves the API's paths (/api/, /actuator/, /metrics) with api
// and every other path with pages.
func withPages(api, pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/api" || strings.HasPrefix(p, "/api/") || p == "/actuator" || strings.HasPrefix(p, "/actuator/") || p == "/metrics" {
			api.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
}

// debugMux serves the runtime profiles on their own listener, away from the API.
func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// openDB opens the configured database and, if migrate is set, migrates it.
func openDB(ctx context.Context, cfg *Config, app string, migrate bool, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{AppName: app, MaxConns: cfg.DBMaxConns,
		SQLiteSynchronous: cfg.SQLiteSynchronous})
	if err != nil {
		return nil, err
	}
	if migrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			log.Info("migrated", "applied", applied)
		}
	}
	return db, nil
}

// keyring loads the jwt-secret. With none configured, the embedded mode makes
// one under the data folder and keeps it; with PostgreSQL the key must be
// given, or every replica would sign with a key of its own.
func keyring(cfg *Config, log *slog.Logger) (*auth.Keyring, error) {
	src := auth.KeySource{SecretFile: cfg.JWTSecretFile, Secret: cfg.JWTSecret, PreviousSecretFile: cfg.JWTPreviousSecretFile,
		SigningDelay: cfg.JWTSigningDelay}
	if src.SecretFile == "" && src.Secret == "" {
		if !cfg.embedded() {
			return nil, errors.New("BANK_JWT_SECRET_FILE (or BANK_JWT_SECRET) is required with a PostgreSQL database")
		}
		path := filepath.Join(cfg.DataDir, "jwt-secret")
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", cfg.DataDir, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(auth.GenerateSecret())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("write %s: %w", path, err)
			}
			log.Info("generated a jwt-secret key", "file", path)
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		src.SecretFile = path
		if src.PreviousSecretFile == "" {
			// Where "bank jwt rotate" puts the old key by default.
			src.PreviousSecretFile, src.PreviousMayBeMissing = filepath.Join(cfg.DataDir, "jwt-secret-previous"), true
		}
	}
	keys, err := auth.NewKeyring(src, log)
	switch {
	case err == nil:
		return keys, nil
	case cfg.JWTSecret != "":
		return nil, fmt.Errorf("--jwt-secret (BANK_JWT_SECRET): %w", err)
	}
	return nil, fmt.Errorf("--jwt-secret-file (BANK_JWT_SECRET_FILE) or --jwt-previous-secret-file: %w", err)
}

// paymentRail returns the configured payment rail.
func paymentRail(cfg *Config, db *store.DB) (payment.Rail, error) {
	if cfg.PaymentRail == "ach" {
		return payment.NewACHRail(db, payment.ACHConfig{OutDir: cfg.ACHOutDir, ReturnDir: cfg.ACHReturnDir,
			Origin: cfg.ACHOrigin, CompanyName: cfg.ACHCompanyName, CompanyID: cfg.ACHCompanyID,
			SettleDelay: cfg.ACHSettleDelay}, time.Now)
	}
	return payment.NewSimRail(db, payment.SimConfig{Delay: cfg.PaymentSimDelay, FailRate: cfg.PaymentSimFailRate,
		ReturnRate: cfg.PaymentSimReturnRate, Seed: cfg.PaymentSimSeed}, time.Now), nil
}
