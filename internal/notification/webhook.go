package notification

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Webhooks are POSTs of JSON to the user's URL, signed so the receiver can
// tell they come from the bank and are fresh:
//
//	X-Bank-Timestamp: the Unix time of the attempt, in seconds
//	X-Bank-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))
//	X-Bank-Delivery-Id: the notification's id, the same on every attempt
//
// A receiver recomputes the signature over the raw body and rejects a
// timestamp more than a few minutes old.
//
// SSRF: a customer chooses the URL, and the bank's own network must not
// become reachable through it. A URL must be http or https, without
// credentials, with a host; the dialer refuses, after name resolution and
// so also for a name that resolves differently later (DNS rebinding),
// every address that is not public unicast: loopback, private (RFC 1918,
// fc00::/7), link-local (the cloud metadata service at 169.254.169.254
// among them), CGNAT, multicast and unspecified. Redirects are not
// followed. Config.AllowPrivateWebhooks lifts the address rule for tests and
// laptops only.

// maxWebhookURL bounds a webhook URL's length.
const maxWebhookURL = 2048

// checkWebhookURL returns why raw cannot be a webhook URL, or nil.
func checkWebhookURL(raw string, allowPrivate bool) error {
	if len(raw) > maxWebhookURL {
		return fmt.Errorf("must be at most %d characters", maxWebhookURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http:// or https:// URL")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return errors.New("must name a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	if allowPrivate {
		return nil
	}
	// The address rule is checked again on the address dialled; here it
	// refuses what is plainly not public when the URL is saved, in every
	// spelling a resolver accepts: a trailing dot, IPv4 in hex, octal or
	// fewer parts ("0x7f000001", "0177.0.0.1", "127.1", "2130706433"), and
	// the names RFC 6761 keeps for loopback.
	host := strings.ToLower(strings.TrimSuffix(strings.Trim(u.Hostname(), "[]"), "."))
	private := errors.New("must not point at a private, loopback or link-local address")
	if ip, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(ip) {
			return private
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return private
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last != "" && strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return errors.New("must name its host by a DNS name or an IP address in canonical form")
	}
	return nil
}

// notPublic are ranges that Go's address classes call global unicast but a
// webhook must not reach: those that are not routed on the internet, and
// IPv6 forms that carry an IPv4 address a gateway would reach for us
// (NAT64 to 127.0.0.1 or the metadata service, 6to4, Teredo).
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGNAT), private in all but name
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, well-known prefix
	netip.MustParsePrefix("64:ff9b:1::/48"), // NAT64, local use
	netip.MustParsePrefix("2001::/32"),      // Teredo
	netip.MustParsePrefix("2002::/16"),      // 6to4
}

// globalUnicast6 is the only IPv6 space handed out for the internet: any
// other address ("::a.b.c.d" included) is not public.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// PublicAddr reports whether ip is a public unicast address: the only kind
// a webhook may reach. The egress NetworkPolicy of deploy/k8s is checked
// against it.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" || ip.Is6() && !globalUnicast6.Contains(ip) {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() &&
		!ip.IsLinkLocalUnicast() && !ip.IsMulticast() && !ip.IsUnspecified()
}

// webhookClient posts webhooks with retries.
type webhookClient struct {
	http     *http.Client
	attempts int
	backoff  time.Duration
	private  bool
	now      func() time.Time
}

func newWebhookClient(cfg Config) *webhookClient {
	d := &net.Dialer{Timeout: cfg.SendTimeout}
	if !cfg.AllowPrivateWebhooks {
		// Checked on the address actually dialled, after resolution.
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !PublicAddr(ap.Addr()) {
				return fmt.Errorf("webhook address %s is not public", address)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address check
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.SendTimeout,
		ResponseHeaderTimeout: cfg.SendTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &webhookClient{
		http: &http.Client{Transport: tr, Timeout: cfg.SendTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		attempts: cfg.WebhookAttempts,
		backoff:  cfg.WebhookBackoff,
		private:  cfg.AllowPrivateWebhooks,
		now:      time.Now,
	}
}

// Sign returns the X-Bank-Signature of body sent at timestamp (Unix seconds)
// with secret: hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// errPermanent marks an answer retrying will not change (a 4xx other than
// 408 and 429, a redirect).
var errPermanent = errors.New("permanent")

// post delivers body to target, trying up to attempts times with
// exponential backoff and full jitter between attempts. Each attempt is
// signed afresh (its own timestamp). It gives up early on a permanent
// answer or when ctx ends.
func (w *webhookClient) post(ctx context.Context, target, secret, deliveryID string, body []byte) error {
	if err := checkWebhookURL(target, w.private); err != nil {
		return fmt.Errorf("webhook URL %w", err)
	}
	var err error
	for n := 1; n <= w.attempts; n++ {
		if n > 1 {
			wait := time.Duration(rand.Int64N(int64(w.backoff<<(n-2)) + 1))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w (after %d attempts: %w)", ctx.Err(), n-1, err)
			case <-t.C:
			}
		}
		if err = w.once(ctx, target, secret, deliveryID, body); err == nil || errors.Is(err, errPermanent) {
			return err
		}
	}
	return fmt.Errorf("after %d attempts: %w", w.attempts, err)
}

func (w *webhookClient) once(ctx context.Context, target, secret, deliveryID string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	ts := w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bank-notification-service")
	req.Header.Set("X-Bank-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Bank-Signature", Sign(secret, ts, body))
	req.Header.Set("X-Bank-Delivery-Id", deliveryID)
	res, err := w.http.Do(req)
	if err != nil {
		// Without the URL: its query may hold the receiver's own token,
		// and this error is logged and stored.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch s := res.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("webhook answered %d", s)
	default:
		return fmt.Errorf("%w: webhook answered %d", errPermanent, s)
	}
}
