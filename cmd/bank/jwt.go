package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/clock"
	"github.com/prometheus/client_golang/prometheus"
)

// jwtRotate is "bank jwt rotate": a new random key becomes the signing key
// and the old one the previous key, in two steps so that no running process
// ever meets a token signed by a key it does not yet accept:
//
//  1. the new key is written to the previous-key file: every process
//     accepts it but none signs with it yet;
//  2. once every service named by --url reports the new key among those it
//     accepts (bank_jwt_key on /actuator/prometheus), the current file moves
//     onto the previous file and the new key becomes the current file. A
//     process that reloads between the two renames finds no current file
//     and keeps the keys it has, which accept both.
//
// A service that does not read the previous-key file would refuse every
// token of the old key after step 2: everyone logged out. So step 2 waits
// for the services to say they have the new key, and when one does not
// within --settle the staged key is taken back and nothing changes. Without
// --url nothing can be checked: the command refuses unless --force, and then
// only waits --settle.
func jwtRotate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jwt rotate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	// The embedded mode's files by default, where serve all keeps them.
	data := cmp.Or(getenv("BANK_DATA_DIR"), DefaultConfig().DataDir)
	defSecret, defPrevious := getenv("BANK_JWT_SECRET_FILE"), getenv("BANK_JWT_PREVIOUS_SECRET_FILE")
	if defSecret == "" {
		defSecret = filepath.Join(data, "jwt-secret")
		if defPrevious == "" {
			defPrevious = filepath.Join(data, "jwt-secret-previous")
		}
	}
	secretFile := fs.String("secret-file", defSecret, "file holding the current key ($BANK_JWT_SECRET_FILE)")
	previousFile := fs.String("previous-secret-file", defPrevious, "file for the key before the rotation ($BANK_JWT_PREVIOUS_SECRET_FILE)")
	settle := fs.Duration("settle", 15*time.Second, "how long the services may take to accept the new key: longer than their --jwt-reload-interval")
	var urls []string
	fs.Func("url", "a running service that must accept the new key before it signs (repeat for each; its /actuator/prometheus is read)", func(v string) error {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("must be an http:// or https:// URL, not %q", v)
		}
		urls = append(urls, strings.TrimRight(v, "/"))
		return nil
	})
	force := fs.Bool("force", false, "rotate without --url, trusting that every service reads --previous-secret-file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *previousFile == "":
		return usagef("--previous-secret-file is required (or BANK_JWT_PREVIOUS_SECRET_FILE): without it the old key would stop working at once")
	case *settle < 0:
		return usagef("--settle must not be negative")
	case len(urls) == 0 && !*force:
		return usagef("give --url for each running service, so that the rotation checks they read %s before the new key signs (a service that does not would log everyone out), or --force", *previousFile)
	}
	if _, err := auth.NewKeyring(auth.KeySource{SecretFile: *secretFile}, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("--secret-file: %w", err)
	}
	staged, err := os.ReadFile(*previousFile) // put back if a service does not take the new key
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--previous-secret-file: %w", err)
	}
	fresh := auth.GenerateSecret()
	if err := writeKey(*previousFile, fresh); err != nil {
		return err
	}
	kid := auth.KeyID(fresh)
	if len(urls) == 0 {
		fmt.Fprintf(stdout, "staged the new key %s in %s; waiting %s for every process to accept it\n", kid, *previousFile, *settle)
		if err := clock.Sleep(ctx, clock.Real(), *settle); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "staged the new key %s in %s; waiting up to %s for %d services to accept it\n", kid, *previousFile, *settle, len(urls))
		if err := awaitKey(ctx, urls, kid, *settle); err != nil {
			if staged != nil {
				err = errors.Join(err, writeKey(*previousFile, string(staged)))
			} else {
				err = errors.Join(err, os.Remove(*previousFile))
			}
			return fmt.Errorf("%w; the staged key is withdrawn and nothing was rotated", err)
		}
	}
	if err := os.Rename(*secretFile, *previousFile); err != nil {
		return fmt.Errorf("move the current key to %s: %w", *previousFile, err)
	}
	if err := writeKey(*secretFile, fresh); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rotated: %s signs with the new key %s, %s holds the old one\n", *secretFile, kid, *previousFile)
	return nil
}

// awaitKey waits until every service at urls reports key kid among those it
// accepts, or within returns an error naming the first that does not.
func awaitKey(ctx context.Context, urls []string, kid string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	want := `bank_jwt_key{kid="` + kid + `"`
	for _, u := range urls {
		var last error
		for {
			last = nil
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/actuator/prometheus", nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err == nil {
				body, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
				resp.Body.Close()
				if rerr == nil && strings.Contains(string(body), want) {
					break
				}
				if rerr == nil && !strings.Contains(string(body), "bank_jwt_key{") {
					last = errors.New("it reports no jwt keys (an older release?)")
				}
			} else {
				last = err
			}
			if clock.Sleep(ctx, clock.Real(), 100*time.Millisecond) != nil {
				if last == nil {
					last = errors.New("it does not accept the new key: is it started with --jwt-previous-secret-file naming the same file?")
				}
				return fmt.Errorf("%s after %s: %w", u, within, last)
			}
		}
	}
	return nil
}

// jwtKeyDesc is bank_jwt_key{kid, use}: 1 for each key a process accepts.
// "bank jwt rotate --url" waits for the new key there; in Kubernetes it shows
// which pods have read a rotated Secret. A key id reveals nothing of the key.
var jwtKeyDesc = prometheus.NewDesc("bank_jwt_key",
	"1 for each jwt-secret key this process accepts, by key id (the first 16 hex digits of its SHA-256) and use (current or previous)",
	[]string{"kid", "use"}, nil)

type jwtKeys struct{ k *auth.Keyring }

func (c jwtKeys) Describe(ch chan<- *prometheus.Desc) { ch <- jwtKeyDesc }

func (c jwtKeys) Collect(ch chan<- prometheus.Metric) {
	for i, id := range c.k.KeyIDs() {
		use := "previous"
		if i == 0 {
			use = "current"
		}
		ch <- prometheus.MustNewConstMetric(jwtKeyDesc, prometheus.GaugeValue, 1, id, use)
	}
}

// writeKey replaces path with key atomically: a reader sees the old file or
// the new one, never half of it.
func writeKey(path, key string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".jwt-key-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.WriteString(key + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
