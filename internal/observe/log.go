package observe

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns a logger writing JSON lines to w at level debug, info,
// warn or error ("" means info); any other level is an error. Attributes
// named like secrets (password, token, authorization…) are masked, so that a
// careless log call cannot put one in the log.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		l = slog.LevelDebug
	case "", "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown log level %q: want debug, info, warn or error", level)
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: maskSecret})
	return slog.New(h), nil
}

// maskSecret replaces the value of an attribute whose key names a secret.
func maskSecret(_ []string, a slog.Attr) slog.Attr {
	switch strings.ToLower(a.Key) {
	case "password", "passwd", "secret", "token", "access_token", "refresh_token",
		"authorization", "api_key", "apikey", "jwt_secret", "client_secret":
		return slog.String(a.Key, "[REDACTED]")
	}
	return a
}
