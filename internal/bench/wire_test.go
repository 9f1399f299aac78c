package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fintech-banking/bank/client"
)

// TestWire checks the bench's own HTTP/1.1 client against net/http's server:
// the request it writes, fixed-length and chunked answers, error bodies, and
// a server that closes the connection after an answer.
func TestWire(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		var tr client.Transfer
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if r.URL.Path != "/base/api/v1/transfers" || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Idempotency-Key") != "key-"+string(rune('0'+n)) || dec.Decode(&tr) != nil ||
			!reflect.DeepEqual(tr, client.Transfer{FromAccountID: `a"1`, ToAccountID: "b", Amount: 42, Currency: "EUR"}) {
			t.Errorf("call %d: unexpected request %s %s %v", n, r.Method, r.URL.Path, r.Header)
		}
		switch n {
		case 1: // fixed length
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id":"t1"}`))
		case 2: // chunked, then the server closes the connection
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusCreated)
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", 10_000)))
		case 3: // an error, chunked
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.(http.Flusher).Flush()
			w.Write([]byte(`{"error":{"code":"insufficient_funds","message":"no"}}`))
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()

	c := client.New(srv.URL+"/base", nil).WithToken("tok")
	w := newWire(c)
	if w == nil {
		t.Fatal("newWire refused a plain http URL")
	}
	defer w.close()
	tr := client.Transfer{FromAccountID: `a"1`, ToAccountID: "b", Amount: 42, Currency: "EUR"}
	ctx := context.Background()
	for i, want := range []string{"", "", "422 insufficient_funds", "418 unexpected"} {
		err := w.transfer(ctx, "key-"+string(rune('1'+i)), tr)
		got := ""
		var ce *client.Error
		if errors.As(err, &ce) {
			got = errCode(ce)
		} else if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if got != want {
			t.Errorf("call %d: got %q, want %q", i+1, got, want)
		}
	}
	if newWire(client.New("https://example.com", nil)) != nil {
		t.Error("newWire took an https URL it cannot speak")
	}
}
