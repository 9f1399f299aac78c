package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
)

// throttleKey is the login_throttle key of an email and a client address,
// or of the email from every address when clientIP is "". Only a hash is
// kept: people type passwords into email fields.
func throttleKey(email, clientIP string) string {
	sum := sha256.Sum256([]byte(email + "\x00" + clientIP))
	return hex.EncodeToString(sum[:])
}

// throttle is one counter a login attempt is counted under, and how many
// attempts in a row it lets through before slowing them.
type throttle struct {
	key  string
	free int
}

// loginThrottles are the counters of a login for email from clientIP: the
// pair, and the email from every address.
func (s *Service) loginThrottles(email, clientIP string) []throttle {
	return []throttle{
		{throttleKey(email, clientIP), s.cfg.FreeLoginFailures},
		{throttleKey(email, ""), s.cfg.FreeAccountFailures},
	}
}

// knownAddressFor is how long an address stays known after a login from it.
const knownAddressFor = 90 * 24 * time.Hour

// knownKey is the login_known_addresses key of email and clientIP. An IPv6
// address counts by its /64, which one host's addresses share.
func knownKey(email, clientIP string) string {
	if ip, err := netip.ParseAddr(clientIP); err == nil && ip.Unmap().Is6() {
		p, _ := ip.Prefix(64)
		clientIP = p.String()
	}
	sum := sha256.Sum256([]byte("known\x00" + email + "\x00" + clientIP))
	return hex.EncodeToString(sum[:])
}

// knownAddress reports whether email logged in from clientIP before (and
// lately): such a login is counted under its own address only, so failures
// for the email from elsewhere cannot keep its owner out. It runs the same
// query whether or not the email has an account.
func (s *Service) knownAddress(ctx context.Context, email, clientIP string, now time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_known_addresses WHERE key = $1 AND expires_at > $2`,
		knownKey(email, clientIP), now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read known login addresses: %w", err)
	}
	return n > 0, nil
}

// reserveLogin counts a login attempt under each of throttles and returns
// how long the caller must wait before it may make one, or 0 when it may
// now; a refused attempt is not counted. The attempt is counted before the
// password is checked, and its delay for the next one set, so that
// concurrent guesses cannot all slip in before the first failure is
// written; a successful login deletes the counts (startSession).
//
// It runs the same statements whether or not the email has an account: the
// answer, and the time it takes, say nothing about which emails exist.
// Counters are locked in the order given, the same for every login, so two
// logins never wait on each other in a cycle.
func (s *Service) reserveLogin(ctx context.Context, throttles []throttle, now time.Time) (time.Duration, error) {
	var wait time.Duration
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		wait = 0
		attempts := make([]int, len(throttles))
		for i, t := range throttles {
			// One statement makes the row if it is missing and locks it:
			// two first attempts at once queue on it instead of both
			// inserting, and a row that another login's success deletes
			// meanwhile is made again (an insert, then a SELECT … FOR
			// UPDATE, would find nothing to lock).
			var blocked time.Time
			err := tx.QueryRowContext(ctx, `INSERT INTO login_throttle (key, attempts, blocked_until, updated_at)
				VALUES ($1, 0, $2, $2) ON CONFLICT (key) DO UPDATE SET key = excluded.key
				RETURNING attempts, blocked_until`, t.key, now).Scan(&attempts[i], &blocked)
			if err != nil {
				return fmt.Errorf("read login throttle: %w", err)
			}
			if blocked.After(now) {
				wait = max(wait, blocked.Sub(now))
			}
		}
		if wait > 0 {
			return nil
		}
		for i, t := range throttles {
			n := attempts[i] + 1
			_, err := tx.ExecContext(ctx, `UPDATE login_throttle SET attempts = $2, blocked_until = $3, updated_at = $4 WHERE key = $1`,
				t.key, n, now.Add(s.cfg.loginDelay(n, t.free)), now)
			if err != nil {
				return fmt.Errorf("count login attempt: %w", err)
			}
		}
		return nil
	})
	return wait, err
}

// throttleRetention is how long a run of failed logins is remembered after
// its last attempt; it is longer than any delay.
const throttleRetention = 24 * time.Hour

// Run sweeps expired login throttles every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	wait := s.cfg.Clock
	if wait == nil {
		wait = clock.Real()
	}
	for clock.Sleep(ctx, wait, interval) == nil {
		if err := s.sweepThrottles(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep login throttles", "err", err)
		}
	}
}

func (s *Service) sweepThrottles(ctx context.Context) error {
	now := s.clock()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_throttle WHERE updated_at < $1`, now.Add(-throttleRetention)); err != nil {
		return fmt.Errorf("delete old login throttles: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_known_addresses WHERE expires_at <= $1`, now); err != nil {
		return fmt.Errorf("delete expired known login addresses: %w", err)
	}
	return nil
}
