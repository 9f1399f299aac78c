package httpapi

import (
	"net/http"

	"github.com/fintech-banking/bank/internal/idem"
)

// StatusOf is the HTTP status of an answer kept under an Idempotency-Key:
// 201 for something made, 200 for a change, 422 for a refusal.
func StatusOf(o idem.Outcome) int {
	switch o {
	case idem.Created:
		return http.StatusCreated
	case idem.Refused:
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

// WriteKept writes an answer kept under an Idempotency-Key (internal/idem)
// as it was kept, byte for byte, marked Idempotent-Replayed when it is an
// earlier request's.
func WriteKept(w http.ResponseWriter, o idem.Outcome, body []byte, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	WriteJSON(w, StatusOf(o), body)
}
