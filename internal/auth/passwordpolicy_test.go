package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fintech-banking/bank/internal/store"
	"github.com/fintech-banking/bank/internal/store/storetest"
)

func TestPasswordProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password, want string
	}{
		{"empty", "", "is required"},
		{"eight spaces", "        ", "must not be only white space"},
		{"eight NULs", strings.Repeat("\x00", 8), "must not contain control characters"},
		{"tabs and newlines", "\t\n\t\n\t\n\t\n", "must not contain control characters"},
		{"ideographic spaces", strings.Repeat("\u3000", 8), "must not be only white space"},
		{"a control character inside", "correct\x07horse", "must not contain control characters"},
		{"invalid UTF-8", "correct\xffhorse", "must be valid UTF-8"},
		{"seven", "abcdefg", "must be at least 8 characters"},
		{"129", strings.Repeat("é", 129), "must be at most 128 characters"},
		{"common", "password1", "is too common; choose another"},
		{"common in capitals", "PassWord1", "is too common; choose another"},
		{"common in full width", "ｐａｓｓｗｏｒｄ１", "is too common; choose another"},
		{"common, eight digits", "12345678", "is too common; choose another"},
		{"common, from the list's end", lastCommonPassword(t), "is too common; choose another"},
		{"fine", "correct horse battery staple", ""},
		{"fine with inner spaces", "  a b c d  ", ""},
		// NFKC counts the ligature ﬀ as two characters.
		{"four ligatures are eight characters", "ﬀﬀﬃﬃ", ""},
		{"eight accented, decomposed", strings.Repeat("e\u0301", 8), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := passwordProblem(tt.password); got != tt.want {
				t.Errorf("passwordProblem(%q) = %q, want %q", tt.password, got, tt.want)
			}
		})
	}
}

// lastCommonPassword is the last of the shipped list of at least 8
// characters: the whole list is loaded, not just its start.
func lastCommonPassword(t *testing.T) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(commonPasswordsText), "\n")
	if len(lines) != 10000 {
		t.Fatalf("common password list has %d entries, want 10000", len(lines))
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if len([]rune(lines[i])) >= 8 {
			return lines[i]
		}
	}
	t.Fatal("no common password of 8 characters")
	return ""
}

// TestRegisterRefusesWeakPasswords goes through the API: 400 naming the
// password, for the passwords the issue found accepted.
func TestRegisterRefusesWeakPasswords(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		for _, pw := range []string{"        ", strings.Repeat("\x00", 8), "password", "iloveyou1"} {
			e := wantError(t, s.register(email, pw, "Ann"), http.StatusBadRequest, "invalid_request")
			if e.Details["password"] == "" {
				t.Errorf("register with %q: details %v do not name the password", pw, e.Details)
			}
		}
	})
}

// TestPasswordNormalized: a password is the same password however its
// characters are encoded.
func TestPasswordNormalized(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		// Full-width letters and a precomposed é, logged in with ASCII and a
		// decomposed é.
		s.mustRegister(email, "Ｃａｆé au lait, s'il vous plaît", "Ann")
		s.mustLogin(email, "Cafe\u0301 au lait, s'il vous plaît")
		wantError(t, s.login(email, "Cafe au lait, s'il vous plaît"), http.StatusUnauthorized, "invalid_credentials")
	})
}

// storedHash returns the password hash stored for email.
func storedHash(t *testing.T, db *store.DB, email string) string {
	t.Helper()
	var h string
	if err := db.QueryRow(`SELECT password_hash FROM users WHERE email = $1`, email).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRehashOnLogin: raising the argon2id parameters upgrades each stored
// hash at its user's next login; a hash made before passwords were
// normalised is remade of the normalised password.
func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, testConfig())
		s.mustRegister(email, password, "Ann")
		before := storedHash(t, db, email)

		stronger := testConfig()
		stronger.Password.Memory *= 2
		stronger.Password.Time++
		svc, err := NewService(db, s.keys, stronger, s.clock.Now, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := svc.Login(ctx, email, "wrong password", "192.0.2.1"); err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
		if got := storedHash(t, db, email); got != before {
			t.Errorf("a failed login changed the hash")
		}
		if _, err := svc.Login(ctx, email, password, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		after := storedHash(t, db, email)
		p, _, _, err := parseHash(after)
		if err != nil || p.Memory != stronger.Password.Memory || p.Time != stronger.Password.Time {
			t.Errorf("hash after login = %s (%v), want m=%d,t=%d", after, err, stronger.Password.Memory, stronger.Password.Time)
		}
		if _, err := svc.Login(ctx, email, password, "192.0.2.1"); err != nil {
			t.Fatalf("login after the rehash: %v", err)
		}
		if got := storedHash(t, db, email); got != after {
			t.Errorf("a login at the current parameters rehashed again")
		}

		// A hash of the password as typed, before normalisation.
		raw := "ｗｉｄｅ and narrow"
		legacy, err := HashPassword(raw, cheapParams)
		if err != nil {
			t.Fatal(err)
		}
		u := s.mustRegister("bob@example.com", "a placeholder password", "Bob")
		if _, err := db.Exec(`UPDATE users SET password_hash = $2 WHERE id = $1`, u.ID, legacy); err != nil {
			t.Fatal(err)
		}
		s.mustLogin("bob@example.com", raw)
		ok, err := VerifyPassword(storedHash(t, db, "bob@example.com"), normalizePassword(raw))
		if err != nil || !ok {
			t.Errorf("hash after login does not match the normalised password (%v)", err)
		}
		s.mustLogin("bob@example.com", "wide and narrow")
	})
}
