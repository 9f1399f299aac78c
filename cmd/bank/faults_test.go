package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/internal/poll"
	"github.com/fintech-banking/bank/internal/store"
)

// TestBankUnderFaults is a Jepsen-style bank test. Customers' clients make
// transfers between accounts in two currencies, each with its own
// Idempotency-Key, retried with the same key until the bank gives a final
// answer; meanwhile a "bank serve all" process is killed with SIGKILL every
// few seconds and started again, and on PostgreSQL the database server
// itself is restarted once (a private cluster the test makes with initdb, so
// the shared one is never touched). Every request and every answer is
// recorded; afterwards a checker reads the ledger back through the API and
// reports, per outcome, how many transfers were acknowledged, lost (answered
// 201 and absent), duplicated (posted twice for one key), refused but posted,
// and the sum of the balances per currency against the money deposited, then
// runs "bank ledger verify". The history and the report are written to the
// test's artifact directory (go test -artifacts keeps them).
//
// The short form runs about 12 s of load per database; BANK_FAULTS_DURATION
// (a Go duration such as 5m) sets a longer one.
func TestBankUnderFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	load := 12 * time.Second
	if s := os.Getenv("BANK_FAULTS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("BANK_FAULTS_DURATION=%q: want a duration such as 5m", s)
		}
		load = d
	}
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			var pg *privatePostgres
			dbURL := "sqlite://" + filepath.Join(t.TempDir(), "bank.db")
			if d == store.Postgres {
				pg = startPrivatePostgres(t)
				dbURL = pg.url()
			}
			testBankUnderFaults(t, dbURL, pg, load)
		})
	}
}

// op is one transfer of the history: what was asked, every answer, and how
// it ended.
type op struct {
	Key      string   `json:"key"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Amount   int64    `json:"amount"`
	Currency string   `json:"currency"`
	Answers  []string `json:"answers"` // "201", "503 unavailable", "error: connection refused", …
	// Outcome is "ok" (201), "refused" (a final 4xx) or "unknown" (no final
	// answer before the client gave up).
	Outcome string `json:"outcome"`
	TxID    string `json:"tx_id,omitempty"`
}

// faultsReport is the checker's verdict on a history.
type faultsReport struct {
	Requests, Acknowledged, Refused, Unknown int
	Lost, Duplicated, RefusedButPosted       []string // keys
	UnknownPosted                            int      // of the unknown, those the ledger holds (once)
	Unrequested                              []string // transactions no request of the history asked for
	WrongAnswers                             []string // answers a bank must never give (5xx but 503, …)
	Deposited, Balances                      map[string]int64
	Kills, DatabaseRestarts                  int
	Retried                                  int            // requests sent more than once
	Answers                                  map[string]int // every answer by status ("error": none)
}

func (r faultsReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests under %d SIGKILLs of serve all and %d database restarts\n", r.Requests, r.Kills, r.DatabaseRestarts)
	fmt.Fprintf(&b, "acknowledged %d, refused %d, without a final answer %d (%d of them posted)\n", r.Acknowledged, r.Refused, r.Unknown, r.UnknownPosted)
	fmt.Fprintf(&b, "retried with their key %d; answers %v\n", r.Retried, r.Answers)
	fmt.Fprintf(&b, "lost %d, duplicated %d, refused but posted %d, posted without a request %d, wrong answers %d\n",
		len(r.Lost), len(r.Duplicated), len(r.RefusedButPosted), len(r.Unrequested), len(r.WrongAnswers))
	for _, c := range slices.Sorted(maps.Keys(r.Deposited)) {
		fmt.Fprintf(&b, "%s: deposited %d, sum of balances %d\n", c, r.Deposited[c], r.Balances[c])
	}
	return b.String()
}

// holder is a customer of the test: a client that logs in again when its
// token is refused (a long run outlives an access token).
type holder struct {
	email, password string
	anon            *client.Client
	mu              sync.Mutex
	c               *client.Client
}

func (h *holder) client() *client.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.c
}

func (h *holder) relogin(ctx context.Context) {
	tok, err := h.anon.Login(ctx, h.email, h.password)
	if err != nil {
		return // the server is down: the next attempt tries again
	}
	h.mu.Lock()
	h.c = h.anon.WithToken(tok.AccessToken)
	h.mu.Unlock()
}

type heldAccount struct {
	id, currency string
	owner        *holder
}

func testBankUnderFaults(t *testing.T, dbURL string, pg *privatePostgres, load time.Duration) {
	const (
		customers = 4
		funds     = 50_000
		workers   = 8
	)
	currencies := []string{"EUR", "USD"}
	srv := startKillable(t, map[string]string{
		"BANK_DATABASE_URL": dbURL,
		"BANK_HTTP_ADDR":    "127.0.0.1:0",
		"BANK_DATA_DIR":     t.TempDir(),
		"BANK_JWT_SECRET":   randomHex(32), // the same for every process: tokens outlive a kill
		"BANK_LOG_LEVEL":    "info",
		"BANK_RATE_LIMIT":   "0",
	})
	ctx := context.Background()
	// The clients reach whichever process is running now.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{MaxIdleConnsPerHost: workers, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, srv.addr.Load().(string))
	}}
	anon := client.New("http://bank", checkedHTTP(t, 30*time.Second, transport))

	if out, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": dbURL, "BANK_USER_PASSWORD": "operator password"},
		"users", "create", "--role", "operator", "--email", "op@bank.test"); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}
	tok, err := anon.Login(ctx, "op@bank.test", "operator password")
	if err != nil {
		t.Fatal(err)
	}
	operator := anon.WithToken(tok.AccessToken)
	var accounts []heldAccount
	deposited := map[string]int64{}
	for i := range customers {
		h := &holder{email: fmt.Sprintf("faults-%d-%s@example.test", i, randomHex(4)), password: "password of customer " + strconv.Itoa(i), anon: anon}
		if _, err := anon.Register(ctx, h.email, h.password, "Customer "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		h.relogin(ctx)
		if h.client() == nil {
			t.Fatal("login of a new customer failed")
		}
		for _, cur := range currencies {
			for range 2 {
				a, err := h.client().OpenAccount(ctx, cur, "checking", "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := operator.Deposit(ctx, "fund-"+a.ID, a.ID, funds, cur); err != nil {
					t.Fatal(err)
				}
				deposited[cur] += funds
				accounts = append(accounts, heldAccount{a.ID, cur, h})
			}
		}
	}

	// The clients: each makes transfers until the load ends, every one
	// retried with its key until a final answer.
	var (
		mu      sync.Mutex
		history []*op
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for n := 0; !stop.Load(); n++ {
				from := accounts[r.IntN(len(accounts))]
				to := accounts[r.IntN(len(accounts))]
				for to.id == from.id || to.currency != from.currency {
					to = accounts[r.IntN(len(accounts))]
				}
				o := &op{Key: fmt.Sprintf("faults-w%d-%d", w, n), From: from.id, To: to.id, Amount: 1 + r.Int64N(2_000), Currency: from.currency}
				if r.IntN(20) == 0 {
					o.Amount = 10 * funds // more than any account holds
				}
				mu.Lock()
				history = append(history, o)
				mu.Unlock()
				transferUntilAnswered(ctx, srv, from.owner, o)
			}
		}()
	}

	// The nemesis: a SIGKILL every 1 to 3 s, and on PostgreSQL one restart
	// of the database halfway.
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	end := time.Now().Add(load)
	kills, restarts := 0, 0
	for time.Now().Before(end) {
		timer := time.NewTimer(time.Second + time.Duration(r.Int64N(int64(2*time.Second))))
		<-timer.C
		if pg != nil && restarts == 0 && time.Until(end) < load/2 {
			pg.restart(t)
			restarts++
			t.Log("restarted PostgreSQL")
			continue
		}
		srv.kill(t)
		kills++
		srv.start(t)
		t.Logf("killed and restarted serve all (%d)", kills)
	}
	stop.Store(true)
	wg.Wait()

	report := checkHistory(t, history, accounts, deposited)
	report.Kills, report.DatabaseRestarts = kills, restarts
	writeArtifacts(t, history, report)
	t.Logf("checker's report:\n%s", report)
	if out, err := runArgs(t, map[string]string{"BANK_DATABASE_URL": dbURL}, "ledger", "verify"); err != nil {
		t.Errorf("ledger verify: %v\n%s", err, out)
	}
	for _, k := range report.Lost {
		t.Errorf("lost: %s was answered 201 and is not in the ledger", k)
	}
	for _, k := range report.Duplicated {
		t.Errorf("duplicated: %s is in the ledger more than once", k)
	}
	for _, k := range report.RefusedButPosted {
		t.Errorf("refused but posted: %s", k)
	}
	for _, k := range report.Unrequested {
		t.Errorf("posted without a request: %s", k)
	}
	for _, w := range report.WrongAnswers {
		t.Errorf("wrong answer: %s", w)
	}
	for cur, sum := range report.Balances {
		if sum != deposited[cur] {
			t.Errorf("%s: the balances sum to %d, %d were deposited", cur, sum, deposited[cur])
		}
	}
	if report.Unknown > 0 {
		t.Errorf("%d transfers got no final answer in time", report.Unknown)
	}
	if kills == 0 || report.Acknowledged == 0 || report.Refused == 0 || pg != nil && restarts == 0 {
		t.Errorf("the run did not test much: %d kills, %d restarts, %d acknowledged, %d refused", kills, restarts, report.Acknowledged, report.Refused)
	}
	if t.Failed() {
		t.Logf("logs of serve all:\n%s", srv.logs())
	}
}

// transferUntilAnswered sends o, again with its key after every answer that
// is not final (no answer, 503, 409 request_in_progress, a token refused),
// for up to a minute, and records each answer.
func transferUntilAnswered(ctx context.Context, srv *killable, h *holder, o *op) {
	body := client.Transfer{FromAccountID: o.From, ToAccountID: o.To, Amount: o.Amount, Currency: o.Currency, Description: o.Key}
	giveUp := time.Now().Add(time.Minute)
	o.Outcome = "unknown"
	for time.Now().Before(giveUp) {
		var tx client.Transaction
		res, err := h.client().Do(ctx, http.MethodPost, "/api/v1/transfers", o.Key, body, &tx)
		if res == nil {
			o.Answers = append(o.Answers, "error: "+err.Error())
			srv.waitUp()
			continue
		}
		o.Answers = append(o.Answers, strings.TrimSpace(fmt.Sprint(res.Status, " ", code(err))))
		switch {
		case res.Status == http.StatusCreated:
			o.Outcome, o.TxID = "ok", tx.ID
			return
		case res.Status == http.StatusServiceUnavailable:
			srv.waitUp()
		case res.Status == http.StatusConflict && code(err) == "request_in_progress":
			srv.waitUp()
		case res.Status == http.StatusUnauthorized:
			h.relogin(ctx)
		case res.Status >= 400 && res.Status < 500:
			o.Outcome = "refused"
			return
		default: // a 5xx but 503: the checker calls it a wrong answer; retried all the same
			srv.waitUp()
		}
	}
}

// checkHistory reads every account's transactions back and judges history
// against them.
func checkHistory(t *testing.T, history []*op, accounts []heldAccount, deposited map[string]int64) faultsReport {
	t.Helper()
	ctx := context.Background()
	rep := faultsReport{Requests: len(history), Deposited: deposited, Balances: map[string]int64{}, Answers: map[string]int{}}
	posted := map[string]map[string]client.Transaction{} // key → tx id → transaction
	for _, a := range accounts {
		acct, err := a.owner.client().Account(ctx, a.id)
		if err != nil {
			t.Fatalf("account %s: %v", a.id, err)
		}
		rep.Balances[a.currency] += acct.Balance.Posted
		for cursor := ""; ; {
			var page client.List[client.Transaction]
			if _, err := a.owner.client().Do(ctx, http.MethodGet, "/api/v1/accounts/"+a.id+"/transactions?limit=100&cursor="+cursor, "", nil, &page); err != nil {
				t.Fatalf("history of %s: %v", a.id, err)
			}
			for _, tx := range page.Data {
				if tx.Type == "deposit" {
					continue
				}
				if posted[tx.Description] == nil {
					posted[tx.Description] = map[string]client.Transaction{}
				}
				posted[tx.Description][tx.ID] = tx
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
	}
	requested := map[string]bool{}
	for _, o := range history {
		requested[o.Key] = true
		txs := posted[o.Key]
		if len(o.Answers) > 1 {
			rep.Retried++
		}
		for _, a := range o.Answers {
			s, _, _ := strings.Cut(a, " ")
			rep.Answers[strings.TrimSuffix(s, ":")]++
			if strings.HasPrefix(s, "5") && s != "503" {
				rep.WrongAnswers = append(rep.WrongAnswers, o.Key+": "+a)
			}
		}
		if len(txs) > 1 {
			rep.Duplicated = append(rep.Duplicated, o.Key)
		}
		for _, tx := range txs {
			if tx.Amount != o.Amount || tx.Currency != o.Currency || !slices.ContainsFunc(tx.Postings, func(p client.Posting) bool {
				return p.AccountID == o.From && p.Amount == -o.Amount
			}) {
				rep.WrongAnswers = append(rep.WrongAnswers, fmt.Sprintf("%s: posted as %+v", o.Key, tx))
			}
		}
		switch o.Outcome {
		case "ok":
			rep.Acknowledged++
			if _, ok := txs[o.TxID]; !ok {
				rep.Lost = append(rep.Lost, o.Key)
			}
		case "refused":
			rep.Refused++
			if len(txs) > 0 {
				rep.RefusedButPosted = append(rep.RefusedButPosted, o.Key)
			}
		default:
			rep.Unknown++
			if len(txs) > 0 {
				rep.UnknownPosted++
			}
		}
	}
	for key := range posted {
		if !requested[key] {
			rep.Unrequested = append(rep.Unrequested, key)
		}
	}
	return rep
}

// writeArtifacts writes the history (one request a line) and the report to
// the test's artifact directory.
func writeArtifacts(t *testing.T, history []*op, rep faultsReport) {
	t.Helper()
	dir := t.ArtifactDir()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, o := range history {
		_ = enc.Encode(o)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(rep.String()), 0o644); err != nil {
		t.Error(err)
	}
}

// killable is a "bank serve all" process the test kills with SIGKILL and
// starts again on the same database.
type killable struct {
	bin  string
	env  []string
	addr atomic.Value // host:port of the running process

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	out    []*serveLog // one per process started
}

func startKillable(t *testing.T, env map[string]string) *killable {
	t.Helper()
	k := &killable{bin: bankBinary(t), env: os.Environ()}
	for key, v := range env {
		k.env = append(k.env, key+"="+v)
	}
	k.start(t)
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		_ = k.cmd.Process.Kill()
		<-k.exited
	})
	return k
}

// start starts a process and waits until it is ready.
func (k *killable) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(k.bin, "serve", "all")
	cmd.Env = k.env
	out := &serveLog{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	k.mu.Lock()
	k.cmd, k.exited, k.out = cmd, exited, append(k.out, out)
	k.mu.Unlock()
	url := waitListening(t, exited, out)
	k.addr.Store(strings.TrimPrefix(url, "http://"))
	waitReady(t, url, exited, out)
}

// kill sends SIGKILL and waits for the process to be gone.
func (k *killable) kill(t *testing.T) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-k.exited
}

// waitUp waits until the current process answers ready, or 30 s pass.
func (k *killable) waitUp() {
	hc := &http.Client{Timeout: 2 * time.Second}
	poll.Wait(30*time.Second, func() bool {
		resp, err := hc.Get("http://" + k.addr.Load().(string) + "/actuator/health/readiness")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (k *killable) logs() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var b strings.Builder
	for i, out := range k.out {
		fmt.Fprintf(&b, "--- process %d\n%s", i+1, out.String())
	}
	return b.String()
}

// privatePostgres is a PostgreSQL cluster of the test's own, on a free port
// of 127.0.0.1, made with the server binaries' initdb and run with pg_ctl as
// the postgres OS user (PostgreSQL refuses to run as root): one the test may
// restart without touching anybody else's.
type privatePostgres struct {
	bin, dir string
	port     int
	cred     *syscall.Credential // nil when the test does not run as root
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	p := &privatePostgres{bin: pgServerBinaries(t), port: freePort(t)}
	p.dir, p.cred = serverDir(t, "bank-test-pg-")
	p.pgctl(t, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	p.pgctl(t, "pg_ctl", "start", "-D", p.data(), "-w", "-t", "60", "-l", filepath.Join(p.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", p.port, p.dir))
	t.Cleanup(func() { p.pgctl(t, "pg_ctl", "stop", "-D", p.data(), "-m", "immediate", "-w") })
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// restart stops the server as a crash would (immediate: no checkpoint, the
// next start recovers from the WAL) and starts it again.
func (p *privatePostgres) restart(t *testing.T) {
	t.Helper()
	// -l again: without it the new server would write to pg_ctl's output,
	// which would then never end.
	p.pgctl(t, "pg_ctl", "restart", "-D", p.data(), "-m", "immediate", "-w", "-t", "60", "-l", filepath.Join(p.dir, "log"))
}

// pgctl runs one of the server binaries as the postgres user.
func (p *privatePostgres) pgctl(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := serverCommand(p.bin, p.cred, name, args...)
	cmd.Dir = p.dir
	cmd.WaitDelay = 10 * time.Second // a server holding the output open does not hang the test
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

// TestFaultsChecker gives the checker of TestBankUnderFaults a ledger and a
// history that disagree in every way it knows, and expects each named.
func TestFaultsChecker(t *testing.T) {
	t.Parallel()
	b := startBank(t, store.SQLite)
	ctx := context.Background()
	c, _ := b.customer("checked")
	h := &holder{c: c}
	from, to := b.account(c, "EUR", 1_000), b.account(c, "EUR", 0)
	post := func(key, description string) string {
		tx, err := c.Transfer(ctx, key, client.Transfer{FromAccountID: from.ID, ToAccountID: to.ID, Amount: 5, Currency: "EUR", Description: description})
		if err != nil {
			t.Fatal(err)
		}
		return tx.ID
	}
	acked := post("k1", "acked")
	dup := post("k2", "dup")
	post("k3", "dup")
	post("k4", "refused")
	post("k5", "stray")
	mk := func(key, outcome, txID string, answers ...string) *op {
		return &op{Key: key, From: from.ID, To: to.ID, Amount: 5, Currency: "EUR", Outcome: outcome, TxID: txID, Answers: answers}
	}
	history := []*op{mk("acked", "ok", acked, "500 internal", "201"), mk("lost", "ok", "no-such-tx", "201"), mk("dup", "ok", dup, "201"),
		mk("refused", "refused", "", "422 insufficient_funds"), mk("unknown", "unknown", "", "error: connection refused")}
	rep := checkHistory(t, history, []heldAccount{{from.ID, "EUR", h}, {to.ID, "EUR", h}}, map[string]int64{"EUR": 1_000})
	got := fmt.Sprintf("%d %d %d %v %v %v %v %d %v", rep.Acknowledged, rep.Refused, rep.Unknown, rep.Lost, rep.Duplicated,
		rep.RefusedButPosted, rep.Unrequested, len(rep.WrongAnswers), rep.Balances)
	if want := "3 1 1 [lost] [dup] [refused] [stray] 1 map[EUR:1000]"; got != want {
		t.Errorf("report %q, want %q\n%s", got, want, rep)
	}
}
