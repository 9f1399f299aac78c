package notification

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// mailer sends email through one SMTP server.
type mailer struct {
	addr, host string
	implicit   bool // smtps: TLS from the first byte
	auth       smtp.Auth
	from       string
	timeout    time.Duration
}

// parseSMTPURL checks smtp://[user:password@]host:port or smtps://….
func parseSMTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, errors.New("must be smtp://host:port or smtps://host:port")
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, errors.New("must name a host and a port")
	}
	return u, nil
}

func newMailer(cfg Config) (*mailer, error) {
	u, err := parseSMTPURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	m := &mailer{addr: u.Host, host: u.Hostname(), implicit: u.Scheme == "smtps", from: cfg.From, timeout: cfg.SendTimeout}
	if u.User != nil {
		pw, _ := u.User.Password()
		// PlainAuth refuses to send the password unencrypted, except to
		// localhost.
		m.auth = smtp.PlainAuth("", u.User.Username(), pw, m.host)
	}
	return m, nil
}

// validEmail reports whether s is one bare address, as a header may carry it.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && !strings.ContainsAny(s, "\r\n")
}

// send delivers one message to to. messageID makes a repeated delivery
// recognisable as the same message.
func (m *mailer) send(ctx context.Context, to, messageID string, msg message) error {
	if !validEmail(to) {
		return fmt.Errorf("recipient address %q is not deliverable", to)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if m.implicit {
		conn = tls.Client(conn, &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12})
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !m.implicit {
		if err := c.StartTLS(&tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(m.compose(to, messageID, msg)); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	// The server took the message: a failed QUIT must not make it look
	// undelivered, or it would be sent again.
	_ = c.Quit()
	return nil
}

// compose writes the RFC 5322 message: headers from checked, single-line
// values, a UTF-8 plain-text body in quoted-printable (7-bit safe, and no
// line of it can be a lone ".").
func (m *mailer) compose(to, messageID string, msg message) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", cleanText(msg.Subject)))
	h("Date", time.Now().UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+messageID+"@notifications.bank>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(msg.Text, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
