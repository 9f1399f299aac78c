package httpapi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fintech-banking/bank/internal/bank"
)

// fuzzBody has a field of each kind the request bodies of the routes have.
type fuzzBody struct {
	Amount   bank.Amount   `json:"amount"`
	Currency string        `json:"currency"`
	Note     *string       `json:"note"`
	Limit    *int64        `json:"limit"`
	Flag     bool          `json:"flag"`
	Tags     []string      `json:"tags"`
	Metadata bank.Metadata `json:"metadata"`
	At       *time.Time    `json:"at"`
	Items    []fuzzItem    `json:"items"`
}

type fuzzItem struct {
	To     string      `json:"to"`
	Amount bank.Amount `json:"amount"`
}

// FuzzDecodeBytes: any body decodes strictly or is refused with a 400 that
// has a code, never a panic; every string of a decoded body is valid text;
// and a decoded body, encoded again, decodes to itself.
func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{
		`{"amount":1250,"currency":"EUR","note":"rent","limit":5,"flag":true,"tags":["a"],"metadata":{"k":"v"},` +
			`"at":"2026-12-06T19:48:40.123+02:00","items":[{"to":"a1","amount":3}]}`,
		`{}`, ` {"note":null} `, `{"tags":null}`, `{"amount":1.5}`, `{"amount":1,"amount":2}`, `{"Amount":1}`, `{"x":1}`,
		`{"note":"\u0000"}`, "{\"note\":\"\xff\"}", `{"note":"\u202e"}`, `{"items":[{"to":7}]}`, `{"metadata":{"k":null}}`, `{"metadata":{"k":"\u0000"}}`, `{"metadata":{"\u0000":"v"}}`,
		`[]`, `null`, `{}{}`, `{"at":"tomorrow"}`, `{"limit":99999999999999999999}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzBody
		err := DecodeBytes(body, &v)
		if err != nil {
			var e *bank.Error
			if !errors.As(err, &e) || e.Kind != bank.KindInvalid || e.Code == "" || Status(e.Kind) != http.StatusBadRequest {
				t.Fatalf("DecodeBytes(%q): %#v, want a 400 *bank.Error with a code", body, err)
			}
			return
		}
		texts := append([]string{v.Currency}, v.Tags...)
		if v.Note != nil {
			texts = append(texts, *v.Note)
		}
		for _, val := range v.Metadata {
			texts = append(texts, val)
		}
		for _, it := range v.Items {
			texts = append(texts, it.To)
		}
		for _, s := range texts {
			if !bank.ValidText(s) {
				t.Fatalf("DecodeBytes(%q) let the string %q through", body, s)
			}
		}
		again, err := json.Marshal(v)
		if err != nil {
			return // a time JSON cannot write (a year past 9999)
		}
		var back fuzzBody
		if err := DecodeBytes(again, &back); err != nil {
			t.Fatalf("DecodeBytes(%q) = %+v, which encodes to %s, which is refused: %v", body, v, again, err)
		}
		if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("DecodeBytes(%q), encoded and decoded again (-first +again):\n%s", body, diff)
		}
	})
}
