package ops_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/ops"
)

// newCert returns a self-signed certificate for name that expires at notAfter.
func newCert(t *testing.T, name string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writePEM writes cert to a PEM file, after a private key block as a
// combined file would have it, and returns its path.
func writePEM(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tls.pem")
	var b []byte
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("not read")})...)
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveTLS starts a TLS server with cert on port 0 and returns HOST:PORT.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestCertExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name string
		left time.Duration
		want ops.Level
		text string
	}{
		{"a year", 365 * day, ops.OK, "365 days left"},
		{"31 days", 31*day + time.Hour, ops.OK, "31 days left"},
		{"30 days", 30*day + time.Hour, ops.Warn, "30 days left"},
		{"8 days", 8*day + time.Hour, ops.Warn, "8 days left"},
		{"7 days", 7*day + time.Hour, ops.Crit, "7 days left"},
		{"expired", -2 * day, ops.Crit, "expired on 2026-11-29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert := newCert(t, "api.bank.test", now.Add(tt.left))
			for _, target := range []string{writePEM(t, cert), serveTLS(t, cert)} {
				got := ops.CertExpiry(context.Background(), target, now)
				if got.Level != tt.want || !strings.Contains(got.Detail, tt.text) {
					t.Errorf("CertExpiry(%s) = %s %q, want %s and %q", target, got.Level, got.Detail, tt.want, tt.text)
				}
			}
		})
	}
}

func TestCertExpiryUnreadable(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	for target, want := range map[string]string{
		notPEM:             "holds no PEM certificate",
		"no-such-file.pem": "neither a file nor HOST:PORT",
		addr:               "connect to " + addr,
	} {
		got := ops.CertExpiry(context.Background(), target, time.Now())
		if got.Level != ops.Unknown || !strings.Contains(got.Detail, want) {
			t.Errorf("CertExpiry(%s) = %s %q, want UNKNOWN and %q", target, got.Level, got.Detail, want)
		}
	}
}

func TestReportLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		levels []ops.Level
		want   ops.Level
		exit   int
	}{
		{nil, ops.OK, 0},
		{[]ops.Level{ops.OK, ops.OK}, ops.OK, 0},
		{[]ops.Level{ops.OK, ops.Warn}, ops.Warn, 1},
		{[]ops.Level{ops.Warn, ops.Unknown}, ops.Unknown, 3},
		{[]ops.Level{ops.Unknown, ops.Crit, ops.Warn}, ops.Crit, 2},
	}
	for _, tt := range tests {
		var cs []ops.Check
		for _, l := range tt.levels {
			cs = append(cs, ops.Check{Name: "c", Level: l})
		}
		r := ops.NewReport(cs)
		if r.Level != tt.want || r.Level.ExitCode() != tt.exit {
			t.Errorf("report of %v: %s exit %d, want %s exit %d", tt.levels, r.Level, r.Level.ExitCode(), tt.want, tt.exit)
		}
	}
}
