package observe

import (
	"context"
	"log/slog"
)

// WithService returns log with the attribute service=name on every record
// that does not name a service itself, so that the lines of every service
// can be told apart in one log store without a record ever carrying the key
// twice.
func WithService(log *slog.Logger, name string) *slog.Logger {
	return slog.New(serviceHandler{log.Handler(), name})
}

type serviceHandler struct {
	slog.Handler
	name string
}

func (h serviceHandler) Handle(ctx context.Context, r slog.Record) error {
	named := false
	r.Attrs(func(a slog.Attr) bool {
		named = a.Key == "service"
		return !named
	})
	if !named {
		r = r.Clone()
		r.AddAttrs(slog.String("service", h.name))
	}
	return h.Handler.Handle(ctx, r)
}

func (h serviceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "service" {
			return h.Handler.WithAttrs(as) // named already: ours would repeat it
		}
	}
	return serviceHandler{h.Handler.WithAttrs(as), h.name}
}

func (h serviceHandler) WithGroup(name string) slog.Handler {
	// Inside a group the attribute would land in the group; add it before.
	return h.Handler.WithAttrs([]slog.Attr{slog.String("service", h.name)}).WithGroup(name)
}
