// Package transaction is the HTTP API of transaction-service: deposits,
// withdrawals, transfers, batches, holds, reversals and history, over the ledger.
package transaction

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
)

// Routes registers every endpoint of transaction-service on mux; authn
// authenticates each of them.
func Routes(mux httpapi.Router, log *slog.Logger, l *ledger.Ledger, authn func(http.Handler) http.Handler) {
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("POST /api/v1/deposits", authn(staff(handleDeposit(log, l))))
	mux.Handle("POST /api/v1/withdrawals", authn(handleWithdrawal(log, l)))
	mux.Handle("POST /api/v1/transfers", authn(handleTransfer(log, l)))
	mux.Handle("POST /api/v1/transfers/batch", authn(handleTransferBatch(log, l)))
	mux.Handle("GET /api/v1/transactions/{id}", authn(handleGetTransaction(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/transactions", authn(handleHistory(log, l)))
	mux.Handle("POST /api/v1/holds", authn(handleCreateHold(log, l)))
	mux.Handle("POST /api/v1/holds/{id}/capture", authn(handleCaptureHold(log, l)))
	mux.Handle("POST /api/v1/holds/{id}/void", authn(handleVoidHold(log, l)))
	mux.Handle("GET /api/v1/holds/{id}", authn(handleGetHold(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/holds", authn(handleListHolds(log, l)))
	mux.Handle("POST /api/v1/transactions/{id}/reverse", authn(staff(handleReverse(log, l))))
	mux.Handle("PATCH /api/v1/transactions/{id}/metadata", authn(staff(handleSetMetadata(log, l))))
}
