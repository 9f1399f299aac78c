package notification

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
)

func handleList(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		limit, cursor, err := httpapi.Pagination(r)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		ns, next, err := s.List(r.Context(), p.UserID, limit, cursor)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, httpapi.List[Notification]{Data: ns, NextCursor: next})
	})
}

func handleGetPreferences(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		prefs, err := s.Preferences(r.Context(), p)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, prefs)
	})
}

func handlePutPreferences(log *slog.Logger, s *Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		var in PreferencesInput
		if err := httpapi.Decode(w, r, &in); err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		prefs, err := s.SetPreferences(r.Context(), p, in)
		if err != nil {
			httpapi.Error(w, r, log, err)
			return
		}
		httpapi.Encode(w, http.StatusOK, prefs)
	})
}
