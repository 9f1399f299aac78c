// Package bench is the load generator behind "bank bench": closed-loop
// clients driving the public API, with latency percentiles, errors by code,
// and CPU cost per transfer read from /proc.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fintech-banking/bank/client"
)

// Scenarios are the workloads Run knows.
var Scenarios = []string{"uniform", "hot-source", "hot-dest", "batch", "mixed"}

// Config describes one run.
type Config struct {
	Scenario  string
	Clients   int
	Duration  time.Duration
	Warmup    time.Duration
	Accounts  int
	BatchSize int
	Currency  string
}

// Validate reports the first setting that cannot work, named by the flag of
// "bank bench" that sets it.
func (c Config) Validate() error {
	switch {
	case !slices.Contains(Scenarios, c.Scenario):
		return fmt.Errorf("--scenario %q: want one of %v", c.Scenario, Scenarios)
	case c.Clients < 1 || c.Clients > 10_000:
		return fmt.Errorf("-c (clients) must be from 1 to 10000, not %d", c.Clients)
	case c.Duration < time.Second:
		return fmt.Errorf("-d (duration) must be at least 1s, not %s", c.Duration)
	case c.Accounts < 2:
		return fmt.Errorf("--accounts must be at least 2, not %d", c.Accounts)
	case c.BatchSize < 1 || c.BatchSize > 1000:
		return fmt.Errorf("-b (transfers per batch request) must be from 1 to 1000, not %d", c.BatchSize)
	}
	return nil
}

// Sample is one request of the measured period.
type Sample struct {
	At        time.Duration // since the measured period began
	Latency   time.Duration
	Transfers int // transfers it posted
	Code      string
}

// Endpoints are anonymous clients of each service. With "serve all" they
// share one URL; with split services each names its own. Transactions holds
// one client per replica of transaction-service the load is spread over; the
// first also funds the accounts.
type Endpoints struct {
	Auth, Accounts *client.Client
	Transactions   []*client.Client
}

// Setup is what a run needs on the server: a customer's clients of the
// transaction and account services, and its funded accounts.
type Setup struct {
	Customers []*client.Client // transaction-service replicas, as the customer
	Reader    *client.Client   // account-service, as the customer
	Accounts  []string
}

// Prepare registers a customer, opens cfg.Accounts accounts and funds each
// with deposits made with operatorToken, an operator's access token.
func Prepare(ctx context.Context, ep Endpoints, operatorToken string, cfg Config) (*Setup, error) {
	email := fmt.Sprintf("bench-%d@bench.invalid", time.Now().UnixNano())
	const password = "bench password, not secret"
	if _, err := ep.Auth.Register(ctx, email, password, "Bench customer"); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	tok, err := ep.Auth.Login(ctx, email, password)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	operator := ep.Transactions[0].WithToken(operatorToken)
	s := &Setup{Reader: ep.Accounts.WithToken(tok.AccessToken)}
	for _, c := range ep.Transactions {
		s.Customers = append(s.Customers, c.WithToken(tok.AccessToken))
	}
	s.Accounts = make([]string, cfg.Accounts)
	errs := make(chan error, cfg.Accounts)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range s.Accounts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := s.Reader.OpenAccount(ctx, cfg.Currency, "checking", "bench "+strconv.Itoa(i))
			if err != nil {
				errs <- fmt.Errorf("open account: %w", err)
				return
			}
			// Enough that no transfer of the run is refused for funds.
			if _, err := operator.Deposit(ctx, "bench-fund-"+a.ID, a.ID, 1e12, cfg.Currency); err != nil {
				errs <- fmt.Errorf("fund account: %w", err)
				return
			}
			s.Accounts[i] = a.ID
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return s, nil
}

// Progress is called about once a second during the measured period.
type Progress func(elapsed time.Duration, transfers int64, errors int64)

// Run drives the scenario with cfg.Clients closed-loop clients: each sends a
// request, waits for the answer, and sends the next. Requests sent during the
// warm-up are not recorded; measure, if not nil, is called when it ends (to
// take the CPU counters, say).
func Run(ctx context.Context, s *Setup, cfg Config, measure func(), progress Progress) ([]Sample, error) {
	var (
		mu        sync.Mutex
		samples   []Sample
		transfers atomic.Int64
		failures  atomic.Int64
		seq       atomic.Int64
	)
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	runID := strconv.FormatInt(start.UnixNano(), 36)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()

	if measure != nil {
		// measure runs on the timer's goroutine; Run returns only after it
		// has finished, so that the caller may read what it wrote.
		measured := make(chan struct{})
		t := time.AfterFunc(cfg.Warmup, func() { defer close(measured); measure() })
		defer func() {
			if !t.Stop() {
				<-measured
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			customer := s.Customers[w%len(s.Customers)]
			wr := newWire(customer)
			if wr != nil {
				defer wr.close()
			}
			var local []Sample
			for {
				now := time.Now()
				if now.After(end) || ctx.Err() != nil {
					break
				}
				key := runID + "-" + strconv.FormatInt(seq.Add(1), 10)
				// Client w always talks to the same replica, as a client
				// behind a round-robin balancer's keep-alive connection would.
				n, code := request(ctx, customer, wr, s, cfg, r, key)
				lat := time.Since(now)
				if now.Before(measureFrom) {
					continue
				}
				if code != "" {
					failures.Add(1)
				}
				transfers.Add(int64(n))
				local = append(local, Sample{At: now.Sub(measureFrom), Latency: lat, Transfers: n, Code: code})
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	if progress != nil {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		t := time.NewTicker(time.Second)
		for loop := true; loop; {
			select {
			case <-done:
				loop = false
			case <-t.C:
				if el := time.Since(measureFrom); el > 0 {
					progress(el, transfers.Load(), failures.Load())
				}
			}
		}
		t.Stop()
	}
	wg.Wait()
	slices.SortFunc(samples, func(a, b Sample) int { return int(a.At - b.At) })
	return samples, nil
}

// request sends one request of the scenario and returns how many transfers it
// posted and, on failure, the error code.
func request(ctx context.Context, customer *client.Client, wr *wire, s *Setup, cfg Config, r *rand.Rand, key string) (int, string) {
	pair := func() (string, string) {
		n := len(s.Accounts)
		from, to := r.IntN(n), r.IntN(n-1)
		if to >= from {
			to++
		}
		switch cfg.Scenario {
		case "hot-source":
			from, to = 0, 1+r.IntN(n-1)
		case "hot-dest":
			from, to = 1+r.IntN(n-1), 0
		}
		return s.Accounts[from], s.Accounts[to]
	}
	transfer := func() client.Transfer {
		from, to := pair()
		return client.Transfer{FromAccountID: from, ToAccountID: to, Amount: int64(1 + r.IntN(10_000)), Currency: cfg.Currency}
	}
	switch {
	case cfg.Scenario == "batch":
		items := make([]client.Transfer, cfg.BatchSize)
		for i := range items {
			items[i] = transfer()
		}
		res, err := customer.TransferBatch(ctx, key, items)
		if err != nil {
			return 0, errCode(err)
		}
		n := 0
		for _, it := range res {
			if it.Error == nil {
				n++
			}
		}
		if n < len(items) {
			return n, "batch_item_failed"
		}
		return n, ""
	case cfg.Scenario == "mixed" && r.IntN(5) == 0:
		var err error
		if r.IntN(2) == 0 {
			_, err = s.Reader.Account(ctx, s.Accounts[r.IntN(len(s.Accounts))])
		} else {
			_, err = customer.Do(ctx, http.MethodGet, "/api/v1/accounts/"+s.Accounts[r.IntN(len(s.Accounts))]+"/transactions?limit=20", "", nil, nil)
		}
		if err != nil {
			return 0, errCode(err)
		}
		return 0, ""
	default:
		// The answer is checked by status only: decoding it would cost the
		// load generator more CPU than the server spends making it.
		var err error
		if wr != nil {
			err = wr.transfer(ctx, key, transfer())
		} else {
			_, err = customer.Do(ctx, http.MethodPost, "/api/v1/transfers", key, transfer(), nil)
		}
		if err != nil {
			return 0, errCode(err)
		}
		return 1, ""
	}
}

func errCode(err error) string {
	if e, ok := err.(*client.Error); ok {
		return strconv.Itoa(e.Status) + " " + e.Code
	}
	return "transport"
}

// Summary is what a run measured.
type Summary struct {
	Scenario          string         `json:"scenario"`
	Clients           int            `json:"clients"`
	DurationSeconds   float64        `json:"duration_seconds"`
	Requests          int            `json:"requests"`
	Transfers         int            `json:"transfers"`
	TransfersPerSec   float64        `json:"transfers_per_second"`
	RequestsPerSec    float64        `json:"requests_per_second"`
	P50Ms             float64        `json:"p50_ms"`
	P95Ms             float64        `json:"p95_ms"`
	P99Ms             float64        `json:"p99_ms"`
	MaxMs             float64        `json:"max_ms"`
	Errors            map[string]int `json:"errors"`
	CPU               *CPUCost       `json:"cpu,omitempty"`
	Storage           *StorageCost   `json:"storage,omitempty"`
	LedgerViolations  []string       `json:"ledger_violations"`
	LedgerTransaction int            `json:"ledger_transactions,omitempty"`
}

// Summarize computes the figures of samples over the measured duration d.
func Summarize(cfg Config, samples []Sample, d time.Duration) Summary {
	s := Summary{Scenario: cfg.Scenario, Clients: cfg.Clients, DurationSeconds: d.Seconds(),
		Requests: len(samples), Errors: map[string]int{}, LedgerViolations: []string{}}
	lat := make([]time.Duration, len(samples))
	for i, x := range samples {
		lat[i] = x.Latency
		s.Transfers += x.Transfers
		if x.Code != "" {
			s.Errors[x.Code]++
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p*float64(len(lat))+0.5) - 1
		i = max(0, min(i, len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs = q(0.50), q(0.95), q(0.99), q(1)
	s.TransfersPerSec = float64(s.Transfers) / d.Seconds()
	s.RequestsPerSec = float64(s.Requests) / d.Seconds()
	return s
}
