// Package account is the HTTP API of account-service: opening, listing and
// managing accounts over the ledger.
package account

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// Routes registers every endpoint of account-service on mux; authn
// authenticates each of them. The staff actions go through gate, which may
// hold them for approval. Statements name the customer, found in users, and
// the bank, issuer.
func Routes(mux httpapi.Router, log *slog.Logger, l *ledger.Ledger, gate *approval.Service, users Directory, issuer Issuer, authn func(http.Handler) http.Handler) {
	mux.Handle("POST /api/v1/accounts", authn(handleOpen(log, l)))
	mux.Handle("GET /api/v1/accounts", authn(handleList(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}", authn(handleGet(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/balance", authn(handleBalance(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/statement", authn(handleStatement(log, l, users, issuer)))
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("POST /api/v1/accounts/{id}/freeze", authn(staff(handleSetStatus(log, gate, approval.ActionFreeze))))
	mux.Handle("POST /api/v1/accounts/{id}/unfreeze", authn(staff(handleSetStatus(log, gate, approval.ActionUnfreeze))))
	mux.Handle("POST /api/v1/accounts/{id}/close", authn(staff(handleSetStatus(log, gate, approval.ActionClose))))
	mux.Handle("PUT /api/v1/accounts/{id}/overdraft-limit", authn(staff(handleOverdraftLimit(log, gate))))
	mux.Handle("PATCH /api/v1/accounts/{id}/metadata", authn(staff(handleSetMetadata(log, l))))
}
