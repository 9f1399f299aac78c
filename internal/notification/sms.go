package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// texter sends SMS through an HTTP provider: a POST of
// {"to":"+E.164","text":"…","id":"<delivery id>"} to BANK_SMS_URL, accepted
// with any 2xx. The provider's URL is the operator's, not a customer's: it
// may be internal.
type texter struct {
	url  string
	http *http.Client
}

func newTexter(cfg Config) *texter {
	return &texter{url: cfg.SMSURL, http: &http.Client{Timeout: cfg.SendTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// phonePattern is an E.164 number: +, a country code, up to 15 digits.
var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxSMS bounds a text: a few concatenated SMS.
const maxSMS = 480

func (t *texter) send(ctx context.Context, to, deliveryID, text string) error {
	if len(text) > maxSMS {
		text = text[:maxSMS]
	}
	body, _ := json.Marshal(map[string]string{"to": to, "text": text, "id": deliveryID})
	ctx, cancel := context.WithTimeout(ctx, t.http.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := t.http.Do(req)
	if err != nil {
		// Without the URL, which may hold the provider's key.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("sms: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("sms provider answered %d", res.StatusCode)
	}
	return nil
}
