package auth

import (
	"errors"
	"fmt"
	"runtime"
	"time"
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
	// MaxFailedLogins wrong passwords in a row lock the account for
	// LockoutDuration.
	MaxFailedLogins int
	LockoutDuration time.Duration
	// LoginRate logins a second, in bursts of LoginBurst, are allowed per
	// client address.
	LoginRate  float64
	LoginBurst int
	// MaxConcurrentHashes bounds the password hashes computed at once. Each
	// holds Password.Memory KiB (19 MiB by default), so without a bound a
	// burst of logins could exhaust memory; and as hashing is CPU-bound,
	// more at once than there are CPUs would only queue anyway.
	MaxConcurrentHashes int
}

// DefaultConfig returns the production settings: OWASP's argon2id parameters
// (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key), a 30-minute lock after 10
// failures, and a login rate that lets a load generator log in a few hundred
// users from one address without tripping the limit, and as many concurrent
// password hashes as the CPUs can work on.
func DefaultConfig() Config {
	return Config{
		Password:        PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLength: 16, KeyLength: 32},
		MaxFailedLogins: 10,
		LockoutDuration: 30 * time.Minute,
		LoginRate:       20,
		LoginBurst:      100,
		// One more than the CPUs, so that a CPU is not idle while a hash
		// waits for its memory.
		MaxConcurrentHashes: runtime.GOMAXPROCS(0) + 1,
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
	case c.MaxFailedLogins < 1:
		return errors.New("auth config: MaxFailedLogins must be at least 1")
	case c.LockoutDuration <= 0:
		return errors.New("auth config: LockoutDuration must be positive")
	case c.LoginRate <= 0:
		return errors.New("auth config: LoginRate must be positive")
	case c.LoginBurst < 1:
		return errors.New("auth config: LoginBurst must be at least 1")
	case c.MaxConcurrentHashes < 1:
		return errors.New("auth config: MaxConcurrentHashes must be at least 1")
	}
	return nil
}
