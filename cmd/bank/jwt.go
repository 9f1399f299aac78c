package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fintech-banking/bank/internal/auth"
)

// jwtRotate is "bank jwt rotate": a new random key becomes the signing key
// and the old one the previous key, in two steps so that no running process
// ever meets a token signed by a key it does not yet accept:
//
//  1. the new key is written to the previous-key file: every process
//     accepts it but none signs with it yet;
//  2. after --settle (longer than the services' reload interval), the
//     current file moves onto the previous file and the new key becomes the
//     current file. A process that reloads between the two renames finds no
//     current file and keeps the keys it has, which accept both.
func jwtRotate(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jwt rotate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	secretFile := fs.String("secret-file", getenv("BANK_JWT_SECRET_FILE"), "file holding the current key ($BANK_JWT_SECRET_FILE)")
	previousFile := fs.String("previous-secret-file", getenv("BANK_JWT_PREVIOUS_SECRET_FILE"), "file for the key before the rotation ($BANK_JWT_PREVIOUS_SECRET_FILE)")
	settle := fs.Duration("settle", 15*time.Second, "wait between the two steps: longer than the services' --jwt-reload-interval")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *secretFile == "":
		return usagef("--secret-file is required (or BANK_JWT_SECRET_FILE)")
	case *previousFile == "":
		return usagef("--previous-secret-file is required (or BANK_JWT_PREVIOUS_SECRET_FILE): without it the old key would stop working at once")
	case *settle < 0:
		return usagef("--settle must not be negative")
	}
	if _, err := auth.NewKeyring(auth.KeySource{SecretFile: *secretFile}, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("--secret-file: %w", err)
	}
	fresh := auth.GenerateSecret()
	if err := writeKey(*previousFile, fresh); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "staged the new key in %s; waiting %s for every process to accept it\n", *previousFile, *settle)
	time.Sleep(*settle)
	if err := os.Rename(*secretFile, *previousFile); err != nil {
		return fmt.Errorf("move the current key to %s: %w", *previousFile, err)
	}
	if err := writeKey(*secretFile, fresh); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rotated: %s signs with the new key, %s holds the old one\n", *secretFile, *previousFile)
	return nil
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
