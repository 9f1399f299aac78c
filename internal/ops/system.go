package ops

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// Actions the system endpoints write to the audit trail.
const (
	AuditMaintenanceOn  = "maintenance.on"
	AuditMaintenanceOff = "maintenance.off"
	AuditQueueRedrive   = "queue.redrive"
)

// AdminQueue is what the system endpoints do to a queue: what "bank queue
// stats" and "bank queue redrive" do.
type AdminQueue interface {
	Stats(ctx context.Context) (queue.Stats, error)
	Redrive(ctx context.Context, max int) (int, error)
}

// NamedQueue is a queue and the name its metrics and the API give it.
type NamedQueue struct {
	Name  string
	Queue AdminQueue
}

// System is the platform as its staff endpoints see it: the queues, and the
// maintenance mode in the database, which watch (this process's copy, nil
// for none) follows at once when it is changed here.
type System struct {
	DB     *store.DB
	Queues []NamedQueue
	Watch  *MaintenanceWatch
	Now    func() time.Time
}

// MaxMaintenanceMessage bounds what customers are told during maintenance.
const MaxMaintenanceMessage = 500

// SystemRoutes registers the system endpoints on mux: staff read the
// queues' depths and the maintenance mode, admins redrive a dead-letter
// queue and turn maintenance on and off. httpapi.Maintenance lets their
// path through during maintenance, so that it can be ended.
func SystemRoutes(mux httpapi.Router, log *slog.Logger, s *System, authn func(http.Handler) http.Handler) {
	staff, admin := auth.Only(log, auth.RoleOperator), auth.Only(log, auth.RoleAdmin)
	mux.Handle("GET /api/v1/system/queues", authn(staff(handleQueues(log, s))))
	mux.Handle("POST /api/v1/system/queues/{name}/redrive", authn(admin(handleRedrive(log, s))))
	mux.Handle("GET /api/v1/system/maintenance", authn(staff(handleGetMaintenance(log, s))))
	mux.Handle("PUT /api/v1/system/maintenance", authn(admin(handlePutMaintenance(log, s))))
}

// QueueDepth is one queue's answer of GET /api/v1/system/queues.
type QueueDepth struct {
	Name       string    `json:"name"`
	Main       DepthJSON `json:"main"`
	DeadLetter DepthJSON `json:"dead_letter"`
}

// DepthJSON is a queue.Depth with its age in seconds.
type DepthJSON struct {
	Visible          int64   `json:"visible"`
	InFlight         int64   `json:"in_flight"`
	Delayed          int64   `json:"delayed"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

func depthJSON(d queue.Depth) DepthJSON {
	return DepthJSON{Visible: d.Visible, InFlight: d.InFlight, Delayed: d.Delayed, OldestAgeSeconds: d.OldestAge.Seconds()}
}

func handleQueues(log *slog.Logger, s *System) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := httpapi.List[QueueDepth]{Data: []QueueDepth{}}
		for _, q := range s.Queues {
			st, err := q.Queue.Stats(r.Context())
			if err != nil {
				log.ErrorContext(r.Context(), "queue stats", "queue", q.Name, "err", err)
				httpapi.Error(w, r, log, bank.Errorf(bank.KindUnavailable, "queue_unavailable", "the queue %s does not answer", q.Name))
				return
			}
			out.Data = append(out.Data, QueueDepth{Name: q.Name, Main: depthJSON(st.Main), DeadLetter: depthJSON(st.DLQ)})
		}
		httpapi.Encode(w, http.StatusOK, out)
	})
}

func handleRedrive(log *slog.Logger, s *System) http.Handler {
	type request struct {
		Max int `json:"max"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		err := httpapi.DecodeOptional(w, r, &in)
		if err == nil && in.Max < 0 {
			err = &bank.Error{Kind: bank.KindInvalid, Code: "invalid_request", Message: "max must be 0 (every message) or more",
				Details: map[string]string{"max": "must be 0 or more"}}
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		name := r.PathValue("name")
		var q AdminQueue
		for _, nq := range s.Queues {
			if nq.Name == name {
				q = nq.Queue
			}
		}
		if q == nil {
			httpapi.Error(w, r, log, bank.Errorf(bank.KindNotFound, "queue_not_found", "no queue is called %q", name))
			return
		}
		moved, err := q.Redrive(r.Context(), in.Max)
		// What was moved is recorded even when the redrive stopped part way.
		rec := audit.New(p.UserID, AuditQueueRedrive, name, bank.OriginOf(r.Context()), map[string]string{"moved": strconv.Itoa(moved)})
		if werr := audit.Write(r.Context(), s.DB, s.Now(), rec); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		log.WarnContext(r.Context(), "dead-letter queue redriven", "queue", name, "moved", moved, "by", p.UserID)
		httpapi.Encode(w, http.StatusOK, struct {
			Queue string `json:"queue"`
			Moved int    `json:"moved"`
		}{name, moved})
	})
}

// MaintenanceJSON is the answer of the maintenance endpoints.
type MaintenanceJSON struct {
	On                bool       `json:"on"`
	Message           string     `json:"message"`
	RetryAfterSeconds int        `json:"retry_after_seconds"`
	Since             *time.Time `json:"since,omitempty"`
}

func maintenanceJSON(m Maintenance) MaintenanceJSON {
	out := MaintenanceJSON{On: m.On, Message: m.Message, RetryAfterSeconds: int(m.RetryAfter / time.Second)}
	if !m.Since.IsZero() {
		since := m.Since.UTC()
		out.Since = &since
	}
	return out
}

func handleGetMaintenance(log *slog.Logger, s *System) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := ReadMaintenance(r.Context(), s.DB)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, maintenanceJSON(m))
	})
}

func handlePutMaintenance(log *slog.Logger, s *System) http.Handler {
	type request struct {
		On                *bool  `json:"on"`
		Message           string `json:"message"`
		RetryAfterSeconds int    `json:"retry_after_seconds"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in request
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		details := map[string]string{}
		switch {
		case in.On == nil:
			details["on"] = "is required"
		case utf8.RuneCountInString(in.Message) > MaxMaintenanceMessage:
			details["message"] = "must be at most " + strconv.Itoa(MaxMaintenanceMessage) + " characters"
		case in.RetryAfterSeconds < 0 || in.RetryAfterSeconds > 86400:
			details["retry_after_seconds"] = "must be from 1 to 86400 (0: 300)"
		}
		if len(details) > 0 {
			httpapi.Error(w, r, log, &bank.Error{Kind: bank.KindInvalid, Code: "invalid_request", Message: "the maintenance mode is not valid", Details: details})
			return
		}
		m := Maintenance{On: *in.On, Message: in.Message, RetryAfter: time.Duration(in.RetryAfterSeconds) * time.Second}
		if m.RetryAfter == 0 {
			m.RetryAfter = 5 * time.Minute
		}
		action := AuditMaintenanceOff
		if m.On {
			action = AuditMaintenanceOn
		}
		now := s.Now()
		err := s.DB.Tx(r.Context(), func(tx *sql.Tx) error {
			if err := SetMaintenance(r.Context(), tx, m, now); err != nil {
				return err
			}
			return audit.Write(r.Context(), tx, now, audit.New(p.UserID, action, "maintenance", bank.OriginOf(r.Context()), nil))
		})
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		if s.Watch != nil {
			_ = s.Watch.Refresh(r.Context()) // a failed read keeps the last state; the next poll tries again
		}
		log.WarnContext(r.Context(), "maintenance set", "on", m.On, "by", p.UserID)
		got, err := ReadMaintenance(r.Context(), s.DB)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, maintenanceJSON(got))
	})
}
