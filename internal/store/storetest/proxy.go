package storetest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fintech-banking/bank/internal/store"
)

// Proxy forwards TCP connections to a database until told otherwise: it can
// cut the connection whose COMMIT the database has just acknowledged, before
// the acknowledgement reaches the client, and refuse and cut every connection
// while down: a database that crashed or restarted, as the client sees it.
type Proxy struct {
	// KillCommit, when set, cuts the next connection whose COMMIT the
	// database acknowledges, and clears itself.
	KillCommit atomic.Bool
	// Down refuses new connections; CutAll ends the open ones.
	Down atomic.Bool
	// Killed counts the connections KillCommit cut.
	Killed atomic.Int32

	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

// StartProxy forwards a listener on 127.0.0.1 to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.CutAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.Down.Load() {
				c.Close()
				continue
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(server, client); server.Close() }()
	// PostgreSQL's CommandComplete message for a COMMIT: 'C', length 11, tag.
	committed := []byte("C\x00\x00\x00\x0bCOMMIT\x00")
	buf := make([]byte, 64<<10)
	var last []byte // the end of the previous read: the message may span two
	for {
		n, err := server.Read(buf)
		if n > 0 {
			seen := append(last, buf[:n]...)
			last = append([]byte(nil), seen[max(len(seen)-len(committed)+1, 0):]...)
			if p.KillCommit.Load() && bytes.Contains(seen, committed) {
				// The database has committed; its answer is never relayed.
				p.KillCommit.Store(false)
				p.Killed.Add(1)
				break
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	client.Close()
	server.Close()
}

// CutAll ends every open connection.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// ProxiedURL returns the URL of a fresh PostgreSQL database (see URL), reached
// through a Proxy, and the proxy.
func ProxiedURL(t testing.TB) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(URL(t, store.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	p := StartProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return u.String(), p
}

// ThroughProxy opens a fresh, migrated PostgreSQL database through a Proxy.
func ThroughProxy(t testing.TB) (*store.DB, *Proxy) {
	t.Helper()
	raw, p := ProxiedURL(t)
	db, err := store.Open(context.Background(), raw, store.Options{AppName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, p
}
