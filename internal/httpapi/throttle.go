package httpapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// Throttling in the manner of API Gateway: a token bucket of Rate requests a
// second, up to Burst at once, per key. The edge keeps one per client
// address; authentication keeps one per caller. A request over its bucket is
// answered 429 rate_limited with Retry-After, before anything else is done
// for it. Health and metrics are never throttled: probes and scrapes must
// see a service that is busy as it is.

// Throttle returns middleware that limits the requests of each key(r) to
// rate a second with bursts of burst; rate 0 lets everything through. Paths
// under /actuator and /metrics are exempt.
func Throttle(rate float64, burst int, key func(*http.Request) string, log *slog.Logger, now func() time.Time) func(http.Handler) http.Handler {
	if rate <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	l := NewLimiter(rate, max(burst, 1), now)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if exempt(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			if ok, wait := l.Allow(key(r)); !ok {
				RetryAfter(w, wait)
				Error(w, r, log, bank.Errorf(bank.KindRateLimited, "rate_limited",
					"too many requests; retry after %s", wait.Round(time.Millisecond)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func exempt(path string) bool {
	return path == "/metrics" || path == "/actuator" || strings.HasPrefix(path, "/actuator/")
}

// ParseProxies reads a comma-separated list of CIDRs or addresses: the
// proxies whose X-Forwarded-For is believed.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a CIDR", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// TrustProxies returns middleware that sets a request's RemoteAddr to the
// client's address when the request came through trusted proxies: reading
// X-Forwarded-For from the right, the first address that is not a trusted
// proxy is the client. A request from any other peer keeps its RemoteAddr,
// whatever it claims: the header is the client's to write.
func TrustProxies(trusted []netip.Prefix) func(http.Handler) http.Handler {
	if len(trusted) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !isTrusted(peer.Addr()) {
				next.ServeHTTP(w, r)
				return
			}
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break // a malformed hop: believe nothing to its left
				}
				if !isTrusted(a) || i == 0 {
					r2 := r.WithContext(r.Context()) // a shallow copy
					r2.RemoteAddr = net.JoinHostPort(a.Unmap().String(), "0")
					next.ServeHTTP(w, r2)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
