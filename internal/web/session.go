package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/fintech-banking/bank/client"
)

// A session is one browser's sign-in, kept on the server: the cookie carries
// only its random id, so no token ever reaches the browser. A session
// without User is anonymous: it exists to hold the CSRF token of the sign-in
// and register forms.
type session struct {
	id       string
	csrf     string
	lastSeen time.Time // guarded by the store's mu

	mu        sync.Mutex // guards what follows; held across a token refresh
	user      *client.User
	access    string
	refresh   string
	accessExp time.Time
	flash     string
}

// sessions is the in-memory session store of one web process. Sessions end
// after IdleTimeout without a request; the store holds at most max of them.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
	max  int
	now  func() time.Time
}

var errTooManySessions = errors.New("too many sessions")

func newSessions(idle time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, idle: idle, max: max, now: now}
}

// randomToken is 32 random bytes, URL-safe: a session id, CSRF token or
// idempotency key nobody can guess.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session: anonymous when user is nil.
func (s *sessions) create(user *client.User, t *client.Tokens) (*session, error) {
	now := s.now()
	ss := &session{id: randomToken(), csrf: randomToken(), user: user, lastSeen: now}
	if t != nil {
		ss.access, ss.refresh = t.AccessToken, t.RefreshToken
		ss.accessExp = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.sweepLocked(now)
		if len(s.m) >= s.max {
			return nil, errTooManySessions
		}
	}
	s.m[ss.id] = ss
	return ss, nil
}

// get returns the live session with id id, and notes its use.
func (s *sessions) get(id string) *session {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if now.Sub(ss.lastSeen) > s.idle {
		delete(s.m, id)
		return nil
	}
	ss.lastSeen = now
	return ss
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// sweepLocked drops the idle sessions; s.mu is held.
func (s *sessions) sweepLocked(now time.Time) {
	for id, ss := range s.m {
		if now.Sub(ss.lastSeen) > s.idle {
			delete(s.m, id)
		}
	}
}

// setFlash keeps msg for the next page the session sees.
func (ss *session) setFlash(msg string) {
	ss.mu.Lock()
	ss.flash = msg
	ss.mu.Unlock()
}
