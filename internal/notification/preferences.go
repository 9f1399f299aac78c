package notification

import (
	"context"

	"github.com/fintech-banking/bank/internal/bank"
)

// PreferencesInput is a user's new choice of channels, as PUT
// /api/v1/notifications/preferences takes it. It replaces the old one:
// email and sms are required; a missing, null or empty webhook_url removes
// the webhook. RotateWebhookSecret asks for a new webhook secret.
type PreferencesInput struct {
	Email               *bool   `json:"email"`
	SMS                 *bool   `json:"sms"`
	Phone               *string `json:"phone"`
	WebhookURL          *string `json:"webhook_url"`
	RotateWebhookSecret bool    `json:"rotate_webhook_secret"`
}

// PreferencesView is what the API answers: the preferences and, only in the
// answer that made it, the webhook secret. The secret is shown once; a
// user who lost it asks for a new one (rotate_webhook_secret).
type PreferencesView struct {
	Preferences
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// Preferences returns p's preferences (the defaults when they chose none).
func (s *Service) Preferences(ctx context.Context, p bank.Principal) (PreferencesView, error) {
	prefs, err := s.preferences(ctx, p.UserID)
	if err != nil {
		return PreferencesView{}, err
	}
	return PreferencesView{Preferences: prefs}, nil
}

// SetPreferences stores p's new preferences. It returns KindInvalid for a
// missing email or sms, a phone that is not E.164, sms without a phone, and
// a webhook URL that is not http(s), carries credentials or (unless
// private webhooks are allowed) names a non-public address.
func (s *Service) SetPreferences(ctx context.Context, p bank.Principal, in PreferencesInput) (PreferencesView, error) {
	switch {
	case in.Email == nil:
		return PreferencesView{}, bank.Invalid("email", "is required (true or false)")
	case in.SMS == nil:
		return PreferencesView{}, bank.Invalid("sms", "is required (true or false)")
	}
	prefs := Preferences{Email: *in.Email, SMS: *in.SMS}
	if in.Phone != nil && *in.Phone != "" {
		if !phonePattern.MatchString(*in.Phone) {
			return PreferencesView{}, bank.Invalid("phone", "must be an E.164 number such as +447700900123")
		}
		prefs.Phone = *in.Phone
	}
	if prefs.SMS && prefs.Phone == "" {
		return PreferencesView{}, bank.Invalid("phone", "is required when sms is true")
	}
	if in.WebhookURL != nil && *in.WebhookURL != "" {
		if err := checkWebhookURL(*in.WebhookURL, s.cfg.AllowPrivateWebhooks); err != nil {
			return PreferencesView{}, bank.Invalid("webhook_url", err.Error())
		}
		prefs.WebhookURL = *in.WebhookURL
	} else if in.RotateWebhookSecret {
		return PreferencesView{}, bank.Invalid("rotate_webhook_secret", "needs a webhook_url")
	}
	saved, secret, err := s.savePreferences(ctx, p.UserID, prefs, in.RotateWebhookSecret)
	if err != nil {
		return PreferencesView{}, err
	}
	return PreferencesView{Preferences: saved, WebhookSecret: secret}, nil
}
