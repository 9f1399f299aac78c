package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/web"
)

// serveWeb runs the pages alone ("bank serve web"), calling the API at
// --api-url through the typed client: what the web Deployment runs. It has
// no database; maintenance shows when the API answers with it. The
// console's system page reads the services at --service-urls.
func serveWeb(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("serve web", flag.ContinueOnError)
	fs.SetOutput(stdout)
	if err := cfg.load(fs, args, getenv, "http-addr", "log-level", "trusted-proxies", "api-url", "api-host",
		"service-urls", "shutdown-delay", "shutdown-timeout"); err != nil {
		return err
	}
	if u, err := url.Parse(cfg.APIURL); cfg.APIURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("serve web needs --api-url (BANK_API_URL), such as http://account-service:8080")
	}
	log, err := observe.NewLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	log = observe.WithService(log, "web")
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	proxies, _ := httpapi.ParseProxies(cfg.TrustedProxies) // validated with the config
	reg := prometheus.NewRegistry()
	registerLimits(reg)
	metrics := observe.NewMetrics(reg)
	health := observe.NewHealth(2 * time.Second)
	health.Log = log

	wc := web.DefaultConfig()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	wc.API = client.New(cfg.APIURL, &http.Client{Timeout: 30 * time.Second, Transport: web.Forwarding(transport, cfg.APIHost)})
	wc.TrustedProxies, wc.Log = proxies, log
	// The system page: queues and maintenance through the API, as the
	// staff member signed in; each service's health and metrics from its
	// Actuator, straight from its Kubernetes Service (the Ingress does not
	// route the Actuator).
	svcs, _ := parseServices(strings.Split(cfg.ServiceURLs, ",")) // validated with the config
	sys := &web.Platform{HTTP: &http.Client{Timeout: 5 * time.Second}, Now: time.Now}
	for _, s := range svcs {
		sys.Services = append(sys.Services, web.Service{Name: s.Name, URL: strings.TrimRight(s.URL, "/")})
	}
	wc.System = sys
	pages, err := web.New(wc)
	if err != nil {
		return err
	}
	actuator := http.NewServeMux()
	observe.NewActuator(reg, health).Routes(actuator)
	srv := httpapi.NewServer(cfg.HTTPAddr, withPages(httpapi.Wrap(actuator, log, metrics),
		httpapi.WrapPages(pages.Handler(), log, metrics)), log)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		health.SetReady(false)
		time.Sleep(cfg.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	health.SetReady(true)
	log.Info("serving", "service", "web", "addr", ln.Addr().String(), "api", cfg.APIURL, "version", version)
	err = g.Wait()
	log.Info("stopped", "service", "web")
	return err
}
