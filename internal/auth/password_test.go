package auth

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDefaultConfigMeetsOWASP checks the production parameters against OWASP's
// Password Storage Cheat Sheet (argon2id, m=19456 KiB, t=2, p=1) and that a
// hash made with them is in the PHC format and verifies.
func TestDefaultConfigMeetsOWASP(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	p := c.Password
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 {
		t.Errorf("argon2id m=%d,t=%d,p=%d, want at least m=19456,t=2,p=1", p.Memory, p.Time, p.Threads)
	}
	if p.SaltLength < 16 || p.KeyLength < 32 {
		t.Errorf("salt %d bytes, key %d bytes; want at least 16 and 32", p.SaltLength, p.KeyLength)
	}
	if c.FreeLoginFailures != 5 || c.LoginDelay != time.Second || c.MaxLoginDelay != 15*time.Minute {
		t.Errorf("throttle after %d failures from %v to %v, want 5, 1s, 15m", c.FreeLoginFailures, c.LoginDelay, c.MaxLoginDelay)
	}

	hash, err := HashPassword("correct horse battery staple", p)
	if err != nil {
		t.Fatal(err)
	}
	// 16 bytes of salt and 32 of key are 22 and 43 unpadded base64 characters.
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(hash) {
		t.Errorf("hash %q is not in the PHC format for the OWASP parameters", hash)
	}
	ok, err := VerifyPassword(hash, "correct horse battery staple")
	if err != nil || !ok {
		t.Errorf("VerifyPassword(hash, right password) = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(hash, "correct horse battery stapl")
	if err != nil || ok {
		t.Errorf("VerifyPassword(hash, wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	const password = "pässwörd 🔑 with spaces"
	hash, err := HashPassword(password, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"same", password, true},
		{"empty", "", false},
		{"last character differs", strings.TrimSuffix(password, "s") + "S", false},
		{"prefix", password[:len(password)-1], false},
		{"longer", password + " ", false},
		{"case", strings.ToUpper(password), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(hash, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

func TestHashPasswordSaltsEachHash(t *testing.T) {
	t.Parallel()
	a, err := HashPassword("same password", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same password", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%s): the salt is not random", a)
	}
}

// TestVerifyPasswordUsesStoredParams: raising the configured parameters must
// not lock out users whose hashes were made with the old ones.
func TestVerifyPasswordUsesStoredParams(t *testing.T) {
	t.Parallel()
	old := PasswordParams{Memory: 32, Time: 3, Threads: 2, SaltLength: 20, KeyLength: 24}
	hash, err := HashPassword("secret password", old)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=32,t=3,p=2$") {
		t.Fatalf("hash %q does not record its parameters", hash)
	}
	ok, err := VerifyPassword(hash, "secret password")
	if err != nil || !ok {
		t.Errorf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyPasswordRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	good, err := HashPassword("secret password", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []struct {
		name, hash string
	}{
		{"empty", ""},
		{"plain text", "secret password"},
		{"argon2i", with(1, "argon2i")},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"old version", with(2, "v=16")},
		{"version with junk", with(2, "v=19x")},
		{"missing segment", strings.Join(parts[:5], "$")},
		{"extra segment", good + "$extra"},
		{"params out of order", with(3, "t=1,m=64,p=1")},
		{"params with junk", with(3, "m=64,t=1,p=1,x=2")},
		{"params with leading zero", with(3, "m=064,t=1,p=1")},
		{"zero time", with(3, "m=64,t=0,p=1")},
		{"zero threads", with(3, "m=64,t=1,p=0")},
		{"memory too small for threads", with(3, "m=8,t=1,p=2")},
		{"memory too large", with(3, "m=4194304,t=1,p=1")},
		{"time too large", with(3, "m=64,t=1000,p=1")},
		{"threads too many", with(3, "m=4096,t=1,p=300")},
		{"salt not base64", with(4, "!!!!")},
		{"salt too short", with(4, "AAAA")},
		{"key not base64", with(5, "***")},
		{"key too short", with(5, "AAAAAAAA")},
		{"padded base64", with(5, parts[5]+"=")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, "secret password")
			if err == nil || ok {
				t.Errorf("VerifyPassword(%q) = %v, %v; want an error", tt.hash, ok, err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"zero time", func(c *Config) { c.Password.Time = 0 }},
		{"zero threads", func(c *Config) { c.Password.Threads = 0 }},
		{"too little memory", func(c *Config) { c.Password.Memory = 7 }},
		{"too much memory", func(c *Config) { c.Password.Memory = maxMemory + 1 }},
		{"short salt", func(c *Config) { c.Password.SaltLength = 8 }},
		{"short key", func(c *Config) { c.Password.KeyLength = 8 }},
		{"no free failures", func(c *Config) { c.FreeLoginFailures = 0 }},
		{"no login delay", func(c *Config) { c.LoginDelay = 0 }},
		{"max delay below delay", func(c *Config) { c.MaxLoginDelay = c.LoginDelay / 2 }},
		{"no login rate", func(c *Config) { c.LoginRate = 0 }},
		{"no login burst", func(c *Config) { c.LoginBurst = 0 }},
		{"no register rate", func(c *Config) { c.RegisterRate = 0 }},
		{"no register burst", func(c *Config) { c.RegisterBurst = 0 }},
		{"no hash slots", func(c *Config) { c.MaxConcurrentHashes = 0 }},
		{"negative hash queue", func(c *Config) { c.MaxQueuedHashes = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			if err := c.Validate(); err == nil {
				t.Errorf("Validate() = nil, want an error")
			}
		})
	}
	if err := testConfig().Validate(); err != nil {
		t.Errorf("testConfig().Validate() = %v", err)
	}
}

// BenchmarkHashPassword measures one argon2id hash with the production
// parameters: the CPU a login costs.
func BenchmarkHashPassword(b *testing.B) {
	p := DefaultConfig().Password
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", p); err != nil {
			b.Fatal(err)
		}
	}
}
