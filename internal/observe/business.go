package observe

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/internal/httpapi"
)

// moneyRoutes are the routes that move money and the operation each is
// counted as. A route added to the API that moves money belongs here.
var moneyRoutes = map[string]string{
	"POST /api/v1/deposits":                  "deposit",
	"POST /api/v1/withdrawals":               "withdrawal",
	"POST /api/v1/transfers":                 "transfer",
	"POST /api/v1/transfers/batch":           "transfer_batch",
	"POST /api/v1/holds":                     "hold",
	"POST /api/v1/holds/{id}/capture":        "capture",
	"POST /api/v1/holds/{id}/void":           "void",
	"POST /api/v1/transactions/{id}/reverse": "reversal",
	"POST /api/v1/payments":                  "payment",
}

// The outcomes of a money movement besides the codes of a refusal by a money
// rule (insufficient_funds, account_frozen…), which are their own outcome.
const (
	outcomeCompleted = "completed" // 2xx: the ledger posted it
	outcomeRefused   = "refused"   // 4xx other than 422: it never began (invalid, unauthorised, in progress…)
	outcomeRejected  = "rejected"  // a 422 whose code could not be read
	outcomeFailed    = "failed"    // 5xx: unavailable or a fault
)

// Business counts the requests that move money as
// bank_money_movements_total{operation, outcome}: operation is transfer,
// payment, deposit…; outcome is completed, refused, failed or, for a refusal
// by a money rule, its error code. A replayed idempotent answer is not
// counted again: the movement happened once.
type Business struct {
	movements *prometheus.CounterVec
}

// NewBusiness returns Business registered in reg, with every operation's
// completed and failed series present from the start, so that rates and
// alerts see a zero rather than nothing.
func NewBusiness(reg prometheus.Registerer) *Business {
	b := &Business{movements: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bank_money_movements_total",
		Help: "Requests that move money, by operation and outcome (completed, refused, failed, or the code of a money rule's refusal).",
	}, []string{"operation", "outcome"})}
	reg.MustRegister(b.movements)
	for _, op := range moneyRoutes {
		for _, o := range []string{outcomeCompleted, outcomeFailed} {
			b.movements.WithLabelValues(op, o)
		}
	}
	return b
}

// Router returns r with the handlers of the routes that move money wrapped
// to be counted. A service registers its routes through it.
func (b *Business) Router(r httpapi.Router) httpapi.Router { return businessRouter{b, r} }

type businessRouter struct {
	b *Business
	r httpapi.Router
}

func (br businessRouter) Handle(pattern string, h http.Handler) {
	if op, ok := moneyRoutes[pattern]; ok {
		h = br.b.count(op, h)
	}
	br.r.Handle(pattern, h)
}

// count returns h counting each answer as a movement of operation op.
func (b *Business) count(op string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &codeRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if w.Header().Get("Idempotent-Replayed") == "true" {
			return
		}
		b.movements.WithLabelValues(op, rec.outcome()).Inc()
	})
}

// codeRecorder keeps a response's status and, for a 422, the start of its
// body, where the error's code is.
type codeRecorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

// maxCodeBody bounds what is kept of a 422's body: the code comes first.
const maxCodeBody = 512

func (c *codeRecorder) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *codeRecorder) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status == http.StatusUnprocessableEntity && len(c.body) < maxCodeBody {
		c.body = append(c.body, p[:min(len(p), maxCodeBody-len(c.body))]...)
	}
	return c.ResponseWriter.Write(p)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *codeRecorder) outcome() string {
	switch s := c.status; {
	case s == 0 || s < 400:
		return outcomeCompleted
	case s == http.StatusUnprocessableEntity:
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		// The code is one of the API's fixed set; anything else would let a
		// response grow the registry, so it is counted as rejected.
		if json.NewDecoder(bytes.NewReader(c.body)).Decode(&e) == nil && errorCode(e.Error.Code) {
			return e.Error.Code
		}
		return outcomeRejected
	case s >= 500:
		return outcomeFailed
	}
	return outcomeRefused
}

// errorCode reports whether s looks like one of the API's error codes.
func errorCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
