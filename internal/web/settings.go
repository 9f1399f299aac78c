package web

import (
	"net/http"

	"github.com/fintech-banking/bank/client"
)

// settingsRoutes are the customer's notification choices and webhook.
func (s *Server) settingsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings", s.settings)
	mux.HandleFunc("POST /settings", s.saveSettings)
}

type settingsData struct {
	Secret        string // the new webhook secret, shown in this answer only
	Notifications []client.Notification
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	_, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	p, err := c.NotificationPreferences(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderSettings(w, r, c, http.StatusOK, prefsForm(p), nil, "")
}

// prefsForm is p as the form's values.
func prefsForm(p *client.NotificationPreferences) map[string]string {
	f := map[string]string{"phone": p.Phone, "webhook_url": p.WebhookURL}
	if p.Email {
		f["email"] = "on"
	}
	if p.SMS {
		f["sms"] = "on"
	}
	return f
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, c *client.Client, status int, form, errs map[string]string, secret string) {
	d := settingsData{Secret: secret}
	l, err := c.Notifications(r.Context(), 10, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Notifications = l.Data
	s.render(w, r, status, "settings", page{Title: "Notifications", Form: form, Errors: errs, Data: d})
}

func (s *Server) saveSettings(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkForm(w, r); !ok {
		return
	}
	ss, c, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	f := formValues(r, "email", "sms", "phone", "webhook_url", "rotate")
	in := client.NotificationPreferences{Email: f["email"] != "", SMS: f["sms"] != "", Phone: f["phone"],
		WebhookURL: f["webhook_url"], RotateWebhookSecret: f["rotate"] != ""}
	p, err := c.SetNotificationPreferences(r.Context(), in)
	if err != nil {
		s.renderSettings(w, r, c, statusOf(err), f, formErrors(err,
			map[string]string{"phone": "phone", "webhook_url": "webhook_url", "sms": "sms", "email": "email", "rotate_webhook_secret": "rotate"}, nil), "")
		return
	}
	if p.WebhookSecret == "" {
		ss.setFlash("Your notification choices are saved.")
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return
	}
	// The secret is in this answer only: show it now, never again.
	ss.setFlash("Your notification choices are saved. Copy the webhook secret below now: it is not shown again.")
	s.renderSettings(w, r, c, http.StatusOK, prefsForm(p), nil, p.WebhookSecret)
}
