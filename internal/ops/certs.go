package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"time"
)

// Certificate thresholds, in days left: the runbook's CloudWatch alarm warns
// at 30; a week is what a renewal needs when it goes wrong.
const (
	CertWarnDays = 30
	CertCritDays = 7
)

// CertExpiry checks the certificate target names: a PEM file, or HOST:PORT
// of a TLS server (its leaf certificate, read without trusting it, so that an
// expired or private certificate is still measured). It is Warn within
// CertWarnDays of expiry, Crit within CertCritDays or after, and Unknown when
// the certificate cannot be read.
func CertExpiry(ctx context.Context, target string, now time.Time) Check {
	c := Check{Name: "cert " + target}
	cert, err := readCert(ctx, target)
	if err != nil {
		c.Level, c.Detail = Unknown, err.Error()
		return c
	}
	days := int(math.Floor(cert.NotAfter.Sub(now).Hours() / 24))
	c.Level = OK
	switch {
	case days <= CertCritDays:
		c.Level = Crit
	case days <= CertWarnDays:
		c.Level = Warn
	}
	if days < 0 {
		c.Detail = fmt.Sprintf("%s expired on %s", subjectName(cert), cert.NotAfter.UTC().Format(time.DateOnly))
	} else {
		c.Detail = fmt.Sprintf("%s: %d days left (expires %s)", subjectName(cert), days, cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return c
}

func subjectName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// readCert returns the leaf certificate of a PEM file or a TLS server.
func readCert(ctx context.Context, target string) (*x509.Certificate, error) {
	if b, err := os.ReadFile(target); err == nil {
		for {
			var block *pem.Block
			block, b = pem.Decode(b)
			if block == nil {
				return nil, fmt.Errorf("%s holds no PEM certificate", target)
			}
			if block.Type == "CERTIFICATE" {
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", target, err)
				}
				return c, nil
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a file nor HOST:PORT", target)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: host, InsecureSkipVerify: true}} // #nosec G402: only the expiry is read
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s sent no certificate", target)
	}
	return certs[0], nil
}
