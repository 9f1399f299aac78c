package account

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// Directory finds the contacts of users: auth.Directory.
type Directory interface {
	Lookup(ctx context.Context, userIDs []string) (map[string]auth.Contact, error)
}

// Issuer is the bank as its statements name it.
type Issuer struct {
	Name    string
	Address string
}

// DefaultIssuer is the bank's name and address on its statements.
func DefaultIssuer() Issuer {
	return Issuer{Name: "Fintech Banking", Address: "1 Ledger Street, London EC2A 1AA"}
}

// parseTime reads the RFC 3339 query parameter name; an absent one is zero.
func parseTime(r *http.Request, name string) (time.Time, error) {
	s, err := httpapi.TypedQuery(r, name)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &bank.Error{Kind: bank.KindInvalid, Code: "invalid_time",
			Message: name + ": must be an RFC 3339 time such as 2026-01-02T15:04:05Z",
			Details: map[string]string{name: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}}
	}
	return t, nil
}

func handleBalance(log *slog.Logger, l *ledger.Ledger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		at, err := parseTime(r, "at")
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		b, err := l.Balance(r.Context(), p, r.PathValue("id"), at)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, b)
	})
}

// maxPDFLines bounds a PDF statement, which is made whole in memory before
// it is sent; CSV and JSON are streamed and have no bound.
const maxPDFLines = 20_000

// statementRequest is a statement's query: from and to are required.
func statementRequest(r *http.Request) (from, to time.Time, format string, err error) {
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if *b.dst, err = parseTime(r, b.name); err != nil {
			return
		}
		if b.dst.IsZero() {
			return from, to, "", bank.Invalid(b.name, "is required: an RFC 3339 time")
		}
	}
	format, err = httpapi.TypedQuery(r, "format")
	if err != nil {
		return from, to, "", err
	}
	switch format {
	case "":
		format = "json"
	case "json", "csv", "pdf":
	default:
		return from, to, "", &bank.Error{Kind: bank.KindInvalid, Code: "unsupported_format",
			Message: `format: must be "json", "csv" or "pdf"`, Details: map[string]string{"format": `must be "json", "csv" or "pdf"`}}
	}
	return from, to, format, nil
}

func handleStatement(log *slog.Logger, l *ledger.Ledger, users Directory, issuer Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		from, to, format, err := statementRequest(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		var sw interface {
			ledger.StatementWriter
			end() error
			started() bool
		}
		switch format {
		case "csv":
			sw = &csvStatement{w: w, rc: http.NewResponseController(w)}
		case "pdf":
			sw = &pdfStatement{ctx: r.Context(), w: w, users: users, issuer: issuer}
		default:
			sw = &jsonStatement{w: w, rc: http.NewResponseController(w)}
		}
		err = l.Statement(r.Context(), p, r.PathValue("id"), from, to, sw)
		if err == nil {
			err = sw.end()
		}
		if err == nil {
			return
		}
		if sw.started() {
			// The status and part of the body are sent: all that is left
			// is to cut the response short, so that the client sees it
			// incomplete (a chunked body without its last chunk).
			log.Error("statement cut short", "account", r.PathValue("id"), "err", err)
			panic(http.ErrAbortHandler)
		}
		httpapi.Error(w, r, log, err)
	})
}

// streamDeadline is how long each flushed part of a streamed statement may
// take to write: the server's write timeout is for the whole response, too
// short for a long statement, so it is pushed back as the rows go.
const streamDeadline = 30 * time.Second

// flushEvery is how many lines a streamed statement writes between flushes.
const flushEvery = 500

// stream holds what the CSV and JSON writers share: counting lines, flushing
// and moving the write deadline on.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	n  int
	on bool // the status is sent
}

func (s *stream) started() bool { return s.on }

func (s *stream) start(contentType string) {
	s.w.Header().Set("Content-Type", contentType)
	s.w.Header().Set("Cache-Control", "no-store")
	s.w.WriteHeader(http.StatusOK)
	s.on = true
	s.extend()
}

// extend moves the write deadline on; a writer that cannot set one (a test
// recorder) needs none.
func (s *stream) extend() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamDeadline))
}

func (s *stream) line() error {
	if s.n++; s.n%flushEvery == 0 {
		if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		s.extend()
	}
	return nil
}

// csvStatement writes a statement as CSV: a header row, then one row per
// line; the opening and closing balances are in the first and last rows'
// balance columns. Rows are made into one buffer (appendCSVField), written
// out as it fills and at each flush.
type csvStatement struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	s   stream
	buf []byte
}

// csvBuffer is how much of a CSV statement is held before it is written.
const csvBuffer = 32 << 10

func (c *csvStatement) Head(st *ledger.Statement) error {
	c.s = stream{w: c.w, rc: c.rc}
	c.w.Header().Set("Content-Disposition", `attachment; filename="statement-`+st.AccountID+`.csv"`)
	c.s.start("text/csv; charset=utf-8")
	c.buf = append(make([]byte, 0, csvBuffer+1024), "transaction_id,created_at,type,description,amount,balance\n"...)
	return nil
}

func (c *csvStatement) Line(ln ledger.StatementLine) error {
	b := append(appendCSVField(c.buf, ln.TransactionID), ',')
	b = append(ln.CreatedAt.AppendFormat(b, time.RFC3339Nano), ',')
	b = append(appendCSVField(b, ln.Type), ',')
	b = append(appendCSVField(b, csvText(ln.Description)), ',')
	b = append(strconv.AppendInt(b, ln.Amount, 10), ',')
	c.buf = append(strconv.AppendInt(b, ln.Balance, 10), '\n')
	if len(c.buf) >= csvBuffer || c.s.n%flushEvery == flushEvery-1 {
		if err := c.write(); err != nil {
			return err
		}
	}
	return c.s.line()
}

// write sends what the buffer holds.
func (c *csvStatement) write() error {
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// ClosingLater: the closing balance is the last row's balance column.
func (c *csvStatement) ClosingLater() {}

func (c *csvStatement) started() bool { return c.s.started() }

func (c *csvStatement) end() error { return c.write() }

// csvText keeps a description from being read as a formula by a
// spreadsheet (CSV injection): one starting with = + - @ gets a quote mark.
func csvText(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// jsonStatement writes a statement as the JSON document of the API, its
// lines as they come.
type jsonStatement struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	s  stream
}

func (j *jsonStatement) Head(st *ledger.Statement) error {
	head, err := json.Marshal(st)
	if err != nil {
		return err
	}
	j.s = stream{w: j.w, rc: j.rc}
	j.s.start("application/json")
	// The head's object, left open for its lines.
	_, err = j.w.Write(append(append(head[:len(head)-1], `,"lines":[`...), '\n'))
	return err
}

func (j *jsonStatement) Line(ln ledger.StatementLine) error {
	b, err := json.Marshal(ln)
	if err != nil {
		return err
	}
	if j.s.n > 0 {
		b = append([]byte{','}, b...)
	}
	if _, err := j.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return j.s.line()
}

func (j *jsonStatement) started() bool { return j.s.started() }

func (j *jsonStatement) end() error {
	if _, err := j.w.Write([]byte("]}\n")); err != nil {
		return err
	}
	return nil
}
