package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
)

// MinKeyLength is the shortest jwt-secret key accepted, in bytes: HS256 is as
// strong as its key, and RFC 7518 asks for at least the hash's 256 bits.
const MinKeyLength = 32

// KeySource says where a Keyring reads the jwt-secret keys from. cmd fills it
// from BANK_JWT_SECRET_FILE, BANK_JWT_SECRET and BANK_JWT_PREVIOUS_SECRET_FILE
// (or flags); this package never reads the environment.
type KeySource struct {
	// SecretFile holds the current key. A mounted Kubernetes secret volume is
	// updated in place when the secret changes, which Reload picks up.
	SecretFile string
	// Secret is the current key itself, for when there is no file. It cannot
	// change without a restart. Exactly one of SecretFile and Secret is set.
	Secret string
	// PreviousSecretFile, optional, holds the key before the last rotation:
	// tokens it signed are still accepted until they expire, so a rotation
	// logs nobody out.
	PreviousSecretFile string
	// PreviousMayBeMissing reads a missing PreviousSecretFile as no previous
	// key, for a default file that appears only with the first rotation; a
	// file named by the operator must exist.
	PreviousMayBeMissing bool
	// SigningDelay, when set, is how long a key must have been in place
	// before it signs: until then the previous key, which every replica
	// accepts, goes on signing (see signer).
	SigningDelay time.Duration
}

// signingKey is one HS256 key and its id, the "kid" of the tokens it signs.
type signingKey struct {
	id     string
	secret []byte
}

func newSigningKey(secret []byte) signingKey {
	return signingKey{id: KeyID(string(secret)), secret: secret}
}

// KeyID is a key's id: the first 16 hex digits of its SHA-256, safe to show,
// and what tokens carry in their "kid" header. Surrounding white space is not
// part of a key.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])[:16]
}

// Keyring holds the keys that sign and verify access tokens: the current key,
// which signs, and optionally the previous one, which only verifies. It is
// safe for concurrent use; Reload swaps the keys under a running service.
type Keyring struct {
	src KeySource
	log *slog.Logger

	now   func() time.Time
	clock clock.Clock // what Watch waits on

	mu       sync.RWMutex
	current  signingKey
	previous signingKey // id "" when none is configured
	// since is when this process first held the current key; prevOlder says
	// the previous key's file is older than the current key's, as it is
	// after a rotation (and not while a new key is being handed out as the
	// previous one, before it becomes current).
	since     time.Time
	prevOlder bool
}

// NewKeyring reads the keys src names. Keys shorter than MinKeyLength bytes,
// missing files and a source that sets both or neither of SecretFile and
// Secret are errors. Surrounding white space (a file's final newline) is not
// part of a key.
func NewKeyring(src KeySource, log *slog.Logger) (*Keyring, error) {
	switch {
	case src.SecretFile != "" && src.Secret != "":
		return nil, errors.New("jwt key: set either a key file or a key value, not both")
	case src.SecretFile == "" && src.Secret == "":
		return nil, errors.New("jwt key: no key file or key value is configured")
	}
	k := &Keyring{src: src, log: log, now: time.Now, clock: clock.Real()}
	cur, prev, err := k.read()
	if err != nil {
		return nil, err
	}
	k.current, k.previous, k.since, k.prevOlder = cur, prev, k.now(), k.previousIsOlder()
	return k, nil
}

// read loads the keys from their source without touching the Keyring's state.
func (k *Keyring) read() (cur, prev signingKey, err error) {
	var secret []byte
	if k.src.SecretFile != "" {
		secret, err = readKeyFile(k.src.SecretFile)
		if err != nil {
			return cur, prev, err
		}
	} else {
		secret = []byte(strings.TrimSpace(k.src.Secret))
		if len(secret) < MinKeyLength {
			return cur, prev, fmt.Errorf("jwt key value is %d bytes; a key must be at least %d bytes (for example 64 random hex characters)", len(secret), MinKeyLength)
		}
	}
	cur = newSigningKey(secret)
	if k.src.PreviousSecretFile != "" {
		secret, err := readKeyFile(k.src.PreviousSecretFile)
		switch {
		case err != nil && k.src.PreviousMayBeMissing && errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return cur, prev, fmt.Errorf("previous %w", err)
		default:
			prev = newSigningKey(secret)
		}
	}
	return cur, prev, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError names the file and the cause, never its contents.
		return nil, fmt.Errorf("jwt key: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinKeyLength {
		return nil, fmt.Errorf("jwt key in %s is %d bytes; a key must be at least %d bytes (for example 64 random hex characters)", path, len(b), MinKeyLength)
	}
	return b, nil
}

// Reload reads the key files again. When their contents changed, the new
// current key signs from now on and the accepted keys become exactly the new
// current and previous keys: a key no file holds any more is dropped. When a
// file cannot be read or holds a bad key, the keys in use are kept (a secret
// volume may be caught half-updated) and the error is returned.
func (k *Keyring) Reload() error {
	cur, prev, err := k.read()
	if err != nil {
		return err
	}
	prevOlder := k.previousIsOlder()
	k.mu.Lock()
	oldCur, oldPrev := k.current, k.previous
	k.current, k.previous, k.prevOlder = cur, prev, prevOlder
	if cur.id != oldCur.id {
		k.since = k.now()
	}
	k.mu.Unlock()
	// Only key ids are logged: they identify a key without revealing it.
	if cur.id != oldCur.id {
		k.log.Info("jwt signing key changed", "kid", cur.id, "old_kid", oldCur.id)
	}
	if prev.id != oldPrev.id {
		k.log.Info("jwt previous key changed", "previous_kid", prev.id, "old_previous_kid", oldPrev.id)
	}
	return nil
}

// Watch calls Reload every interval until ctx ends, so that a rotated
// jwt-secret reaches a running service without a restart. Reload failures are
// logged and the keys in use kept.
func (k *Keyring) Watch(ctx context.Context, interval time.Duration) {
	for clock.Sleep(ctx, k.clock, interval) == nil {
		if err := k.Reload(); err != nil {
			k.log.Warn("jwt key reload; keeping the keys in use", "err", err)
		}
	}
}

// KeyIDs returns the ids of the accepted keys, the signing key first. An id is
// the first 16 hex digits of the key's SHA-256: safe to show, and what tokens
// carry in their "kid" header.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := []string{k.current.id}
	if k.previous.id != "" && k.previous.id != k.current.id {
		ids = append(ids, k.previous.id)
	}
	return ids
}

// signer returns the key that signs new tokens: the current key, except
// during the first SigningDelay after this process took it, while the
// previous key is older than it. Replicas read a rotated secret at different
// moments (a kubelet updates each pod's volume on its own schedule, and a
// rollout starts new pods beside old ones); a token signed with the new key
// would be refused by a replica that has not read it yet, while the previous
// key is accepted by all of them: the old replicas hold it as current, the
// new ones as previous.
func (k *Keyring) signer() signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.previous.id != "" && k.previous.id != k.current.id && k.prevOlder &&
		k.now().Sub(k.since) < k.src.SigningDelay {
		return k.previous
	}
	return k.current
}

// previousIsOlder reports whether the previous key's file was written before
// the current key's. With no file for either, it is false.
func (k *Keyring) previousIsOlder() bool {
	if k.src.SecretFile == "" || k.src.PreviousSecretFile == "" {
		return false
	}
	cur, err1 := os.Stat(k.src.SecretFile)
	prev, err2 := os.Stat(k.src.PreviousSecretFile)
	return err1 == nil && err2 == nil && prev.ModTime().Before(cur.ModTime())
}

// lookup returns the accepted key with id kid.
func (k *Keyring) lookup(kid string) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	switch {
	case kid == "":
		return nil, false
	case kid == k.current.id:
		return k.current.secret, true
	case kid == k.previous.id:
		return k.previous.secret, true
	}
	return nil, false
}

// GenerateSecret returns a new random key: 32 bytes from crypto/rand as 64 hex
// characters, for the key file `serve all` creates when none is configured.
func GenerateSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program if it cannot.
	return hex.EncodeToString(b[:])
}
