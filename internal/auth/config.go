package auth

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
)

// Token lifetimes. An access token is short-lived because it cannot be revoked:
// any service verifies it locally, without asking the database. A refresh token
// can be revoked, so it may live long.
const (
	AccessTokenTTL  = 15 * time.Minute
	RefreshTokenTTL = 30 * 24 * time.Hour
)

// PasswordParams are the argon2id parameters new password hashes are made with.
// Stored hashes carry their own parameters, so raising these later does not
// invalidate existing passwords.
type PasswordParams struct {
	Memory     uint32 // KiB
	Time       uint32 // passes over the memory
	Threads    uint8
	SaltLength uint32 // bytes
	KeyLength  uint32 // bytes
}

// Config tunes the Service. Start from DefaultConfig.
type Config struct {
	Password PasswordParams
	// FreeLoginFailures logins in a row that do not succeed for one email
	// from one client address are not slowed; after them, each further
	// attempt must wait LoginDelay, doubled at each attempt up to
	// MaxLoginDelay (NIST SP 800-63B, 5.2.2: throttle, do not lock). The
	// count is per email whether or not it has an account, and ends with a
	// successful login.
	FreeLoginFailures int
	LoginDelay        time.Duration
	MaxLoginDelay     time.Duration
	// FreeAccountFailures logins in a row that do not succeed for one email,
	// from any addresses, are not slowed; after them every address waits as
	// above. It caps what an attacker spread over many addresses can try
	// against one account (SP 800-63B: at most 100 failures), at the price of
	// slowing, never locking, the account's owner while it lasts.
	FreeAccountFailures int
	// LoginRate logins a second, in bursts of LoginBurst, are allowed per
	// client address.
	LoginRate  float64
	LoginBurst int
	// RegisterRate registrations a second, in bursts of RegisterBurst, are
	// allowed per client address: each costs a password hash and a row.
	RegisterRate  float64
	RegisterBurst int
	// MaxConcurrentHashes bounds the password hashes computed at once. Each
	// holds Password.Memory KiB (19 MiB by default), so without a bound a
	// burst of logins could exhaust memory; and as hashing is CPU-bound,
	// more at once than there are CPUs would only queue anyway.
	// Registrations take at most half of them, so that they never starve
	// logins.
	MaxConcurrentHashes int
	// MaxQueuedHashes requests may wait for a hash slot; one more is answered
	// 503 busy at once, rather than waiting for a slot it would get too late.
	MaxQueuedHashes int
	// Clock is what the throttle sweeper waits on (nil: the real clock).
	Clock clock.Clock
}

// DefaultConfig returns the production settings: OWASP's argon2id parameters
// (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key); 5 free failed logins per
// email and address, and 100 per email from all addresses, then delays of
// 1 s doubling up to 15 minutes; a login
// rate that lets a load generator log in a few hundred users from one address
// without tripping the limit; 20 registrations from one address, then one
// every 10 seconds; as many concurrent password hashes as the CPUs can work
// on, and a queue of 64 more.
func DefaultConfig() Config {
	return Config{
		Password:            PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLength: 16, KeyLength: 32},
		FreeLoginFailures:   5,
		FreeAccountFailures: 100,
		LoginDelay:          time.Second,
		MaxLoginDelay:       15 * time.Minute,
		LoginRate:           20,
		LoginBurst:          100,
		RegisterRate:        0.1,
		RegisterBurst:       20,
		// One more than the CPUs, so that a CPU is not idle while a hash
		// waits for its memory.
		MaxConcurrentHashes: runtime.GOMAXPROCS(0) + 1,
		MaxQueuedHashes:     64,
	}
}

// Validate reports the first setting that cannot work. It does not insist on
// OWASP's minimums, so that tests can hash cheaply; production uses
// DefaultConfig.
func (c Config) Validate() error {
	p := c.Password
	switch {
	case p.Time < 1:
		return errors.New("auth config: argon2id time must be at least 1")
	case p.Threads < 1:
		return errors.New("auth config: argon2id threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("auth config: argon2id memory must be at least 8 KiB per thread, got %d KiB", p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("auth config: argon2id memory must be at most %d KiB, got %d", maxMemory, p.Memory)
	case p.SaltLength < 16:
		return fmt.Errorf("auth config: salt must be at least 16 bytes, got %d", p.SaltLength)
	case p.KeyLength < 16 || p.KeyLength > 64:
		return fmt.Errorf("auth config: key length must be 16 to 64 bytes, got %d", p.KeyLength)
	case c.FreeLoginFailures < 1 || c.FreeAccountFailures < c.FreeLoginFailures:
		return errors.New("auth config: FreeLoginFailures must be at least 1, and FreeAccountFailures at least as many")
	case c.LoginDelay <= 0 || c.MaxLoginDelay < c.LoginDelay:
		return errors.New("auth config: LoginDelay must be positive and at most MaxLoginDelay")
	case c.LoginRate <= 0 || c.RegisterRate <= 0:
		return errors.New("auth config: LoginRate and RegisterRate must be positive")
	case c.LoginBurst < 1 || c.RegisterBurst < 1:
		return errors.New("auth config: LoginBurst and RegisterBurst must be at least 1")
	case c.MaxConcurrentHashes < 1:
		return errors.New("auth config: MaxConcurrentHashes must be at least 1")
	case c.MaxQueuedHashes < 0:
		return errors.New("auth config: MaxQueuedHashes must not be negative")
	}
	return nil
}

// loginDelay is how long the attempt after the attempts-th in a row must
// wait when free attempts are free: nothing for those, then LoginDelay
// doubling up to MaxLoginDelay.
func (c Config) loginDelay(attempts, free int) time.Duration {
	n := attempts - free
	if n <= 0 {
		return 0
	}
	d := c.LoginDelay
	for i := 1; i < n && d < c.MaxLoginDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxLoginDelay)
}
