package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/fintech-banking/bank/client"
)

// wire is one client's keep-alive HTTP/1.1 connection for the transfer
// scenarios. It writes each request from one reused buffer and reads only
// the status and the body's length, which is what a load generator such as
// wrk does: net/http's client costs more CPU per request than the server
// spends answering it, and the load generator shares the box with the
// server. Anything it cannot do (https, a proxy) leaves the run on
// client.Client.
type wire struct {
	addr, host, prefix string
	conn               net.Conn
	r                  *bufio.Reader
	buf                []byte
	body               []byte
}

// newWire returns a wire to c's server, or nil when c's URL is not plain
// http.
func newWire(c *client.Client) *wire {
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Scheme != "http" || u.User != nil {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &wire{addr: addr, host: u.Host,
		prefix: "POST " + u.Path + "/api/v1/transfers HTTP/1.1\r\nHost: " + u.Host +
			"\r\nAuthorization: Bearer " + c.Token + "\r\nContent-Type: application/json\r\nIdempotency-Key: "}
}

// transfer posts t with idempotency key key and returns nil, a *client.Error
// for an answer other than 2xx, or a transport error.
func (w *wire) transfer(ctx context.Context, key string, t client.Transfer) error {
	w.body = append(w.body[:0], `{"from_account_id":`...)
	w.body = strconv.AppendQuote(w.body, t.FromAccountID)
	w.body = append(w.body, `,"to_account_id":`...)
	w.body = strconv.AppendQuote(w.body, t.ToAccountID)
	w.body = append(w.body, `,"amount":`...)
	w.body = strconv.AppendInt(w.body, t.Amount, 10)
	w.body = append(w.body, `,"currency":`...)
	w.body = strconv.AppendQuote(w.body, t.Currency)
	w.body = append(w.body, '}')

	w.buf = append(w.buf[:0], w.prefix...)
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, "\r\nContent-Length: "...)
	w.buf = strconv.AppendInt(w.buf, int64(len(w.body)), 10)
	w.buf = append(w.buf, "\r\n\r\n"...)
	w.buf = append(w.buf, w.body...)

	// A kept-alive connection the server closed meanwhile fails on first
	// use: the request is sent again once on a new connection, with the same
	// idempotency key, so that at worst the server replays its answer.
	fresh := w.conn == nil
	status, body, err := w.roundTrip(ctx)
	if err != nil && !fresh {
		status, body, err = w.roundTrip(ctx)
	}
	if err != nil {
		return err
	}
	if status >= 300 {
		var eb struct {
			Error *client.Error `json:"error"`
		}
		if json.Unmarshal(body, &eb) != nil || eb.Error == nil {
			eb.Error = &client.Error{Code: "unexpected", Message: string(body)}
		}
		eb.Error.Status = status
		return eb.Error
	}
	return nil
}

// roundTrip sends w.buf and reads one answer: its status and, when it is
// not a success, its body.
func (w *wire) roundTrip(ctx context.Context) (int, []byte, error) {
	if w.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", w.addr)
		if err != nil {
			return 0, nil, err
		}
		w.conn, w.r = c, bufio.NewReaderSize(c, 8<<10)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = w.conn.SetDeadline(dl)
	} else {
		_ = w.conn.SetDeadline(time.Time{})
	}
	status, body, keep, err := w.exchange()
	if err != nil || !keep {
		w.close()
	}
	return status, body, err
}

func (w *wire) exchange() (status int, body []byte, keep bool, err error) {
	if _, err = w.conn.Write(w.buf); err != nil {
		return 0, nil, false, err
	}
	line, err := w.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := w.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	var r io.Reader
	switch {
	case chunked:
		r = newChunked(w.r)
	case length >= 0:
		r = io.LimitReader(w.r, int64(length))
	default: // the body ends with the connection
		r, keep = w.r, false
	}
	if status < 300 {
		_, err = io.Copy(io.Discard, r)
		return status, nil, keep, err
	}
	body, err = io.ReadAll(r)
	return status, body, keep, err
}

func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.r = nil, nil
	}
}

// chunked reads a body in HTTP/1.1's chunked transfer coding.
type chunked struct {
	r    *bufio.Reader
	left int64
	done bool
}

func newChunked(r *bufio.Reader) *chunked { return &chunked{r: r} }

func (c *chunked) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				t, err := c.r.ReadSlice('\n')
				if err != nil {
					return 0, err
				}
				if len(bytes.TrimSpace(t)) == 0 {
					break
				}
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		// The CRLF after the chunk's data.
		if _, err := c.r.Discard(2); err != nil {
			return n, err
		}
	}
	if errors.Is(err, io.EOF) && c.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
