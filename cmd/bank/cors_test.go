package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestCORSOriginsSetting: a bad BANK_CORS_ORIGINS stops start-up with a
// message naming it; good ones are kept.
func TestCORSOriginsSetting(t *testing.T) {
	tests := []struct {
		value, wantErr string
	}{
		{"", ""},
		{"https://app.bank.example, http://localhost:3000", ""},
		{"*", "BANK_CORS_ORIGINS"},
		{"http://app.bank.example", "BANK_CORS_ORIGINS"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("serve all", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		err := cfg.load(fs, nil, func(k string) string {
			if k == "BANK_CORS_ORIGINS" {
				return tt.value
			}
			return ""
		})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("BANK_CORS_ORIGINS=%q: %v, want accepted", tt.value, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("BANK_CORS_ORIGINS=%q: %v, want an error naming %s", tt.value, err, tt.wantErr)
		case err == nil && cfg.CORSOrigins != tt.value:
			t.Errorf("BANK_CORS_ORIGINS=%q kept as %q", tt.value, cfg.CORSOrigins)
		}
	}
}
