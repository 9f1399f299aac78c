package httpapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// MaxHeaderBytes bounds a request's header section. The server reads up to
// ServerMaxHeaderBytes so that a request between the two is answered with the
// API's JSON 431 rather than net/http's plain-text one.
const (
	MaxHeaderBytes       = 64 << 10
	ServerMaxHeaderBytes = 1 << 20
)

// securityHeaders go on every response. The API serves JSON only, so the
// strictest Content-Security-Policy costs nothing and disarms any response a
// browser might be tricked into rendering; nosniff stops it from guessing
// another type. CORS stays closed: no Access-Control-Allow-* header is ever
// sent, so browsers keep other origins out.
var securityHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
}

// edge answers what no route should see, with the API's error document:
// headers too large (431), a path that is not in its clean form (400, where
// the ServeMux would redirect with an HTML body), and a body that is not
// JSON (415). It sets the security headers on every response, and
// Cache-Control: no-store on every answer to a request with credentials.
func edge(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	if r.Header.Get("Authorization") != "" {
		h.Set("Cache-Control", "no-store")
	}
	if headerBytes(r) > MaxHeaderBytes {
		WriteJSON(w, http.StatusRequestHeaderFieldsTooLarge, []byte(`{"error":{"code":"headers_too_large","message":"request headers exceed `+
			strconv.Itoa(MaxHeaderBytes)+` bytes"}}`))
		return false
	}
	if !cleanPath(r.URL.Path) {
		WriteJSON(w, http.StatusBadRequest, []byte(`{"error":{"code":"invalid_path","message":"the path must not hold empty, . or .. segments"}}`))
		return false
	}
	if hasBody(r) && !isJSON(r.Header.Get("Content-Type")) {
		WriteJSON(w, http.StatusUnsupportedMediaType, []byte(`{"error":{"code":"unsupported_media_type","message":"request bodies must be application/json"}}`))
		return false
	}
	return true
}

// headerBytes is the size of r's header section as sent, near enough.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// cleanPath reports whether p is absolute and has no empty, "." or ".."
// segment (a trailing slash is allowed): the form routes match without a
// redirect.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}

// hasBody reports whether r carries a body: a positive or unknown length.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// isJSON reports whether a Content-Type header names JSON: application/json
// or a +json type, with at most a UTF-8 charset.
func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// JSONErrors returns ln with its connections' plain-text error answers made
// JSON. net/http answers a request it cannot parse (a control character in a
// header, headers past the server's limit, a malformed request line) itself,
// before any handler runs, by writing a fixed plain-text response straight
// to the connection; this rewrites exactly those responses into the API's
// error document. Responses from handlers pass through untouched.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

type jsonErrorConn struct{ net.Conn }

// plainErrorHeaders are the headers net/http puts on the errors it writes
// itself, right after the status line. A handler's response never has them
// so: net/http writes a handler's headers sorted, with a Date.
var plainErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

func (c *jsonErrorConn) Write(b []byte) (int, error) {
	// net/http's own errors are one short write; a handler's response is
	// passed on without a search when it is longer.
	if len(b) > 512 {
		return c.Conn.Write(b)
	}
	statusLine, rest, ok := bytes.Cut(b, plainErrorHeaders)
	if !ok || !bytes.HasPrefix(statusLine, []byte("HTTP/1.")) || bytes.ContainsAny(statusLine, "\r\n") {
		return c.Conn.Write(b)
	}
	// rest is "400 Bad Request: why", or the status alone.
	_, msg, _ := strings.Cut(strings.TrimSpace(string(rest)), " ")
	code := "invalid_request"
	if bytes.Contains(statusLine, []byte(" 431 ")) {
		code = "headers_too_large"
	}
	body, err := json.Marshal(ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
	if err != nil {
		return c.Conn.Write(b)
	}
	// Keep net/http's status line; only the headers and body change.
	out := make([]byte, 0, len(statusLine)+len(body)+128)
	out = append(out, statusLine...)
	out = append(out, "\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n\r\n"...)
	out = append(out, body...)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
