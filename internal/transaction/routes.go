// Package transaction is the HTTP API of transaction-service: deposits,
// withdrawals, transfers, batches, holds, reversals and history, over the ledger.
package transaction

import (
	"log/slog"
	"net/http"

	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/httpapi"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/search"
)

// Routes registers every endpoint of transaction-service on mux; authn
// authenticates each of them. Deposits, withdrawals and reversals go
// through gate, which may hold a staff user's for approval. Searches go to
// idx (nil: the ledger's own index).
func Routes(mux httpapi.Router, log *slog.Logger, l *ledger.Ledger, gate *approval.Service, idx search.Index, authn func(http.Handler) http.Handler) {
	if idx == nil {
		idx = l
	}
	staff := auth.Only(log, auth.RoleOperator)
	mux.Handle("POST /api/v1/deposits", authn(staff(handleDeposit(log, gate))))
	mux.Handle("POST /api/v1/withdrawals", authn(handleWithdrawal(log, gate)))
	mux.Handle("POST /api/v1/transfers", authn(handleTransfer(log, l)))
	mux.Handle("POST /api/v1/transfers/batch", authn(handleTransferBatch(log, l)))
	mux.Handle("GET /api/v1/transactions/search", authn(handleSearch(log, idx, l)))
	mux.Handle("GET /api/v1/transactions/{id}", authn(handleGetTransaction(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/transactions", authn(handleHistory(log, l)))
	mux.Handle("POST /api/v1/holds", authn(handleCreateHold(log, l)))
	mux.Handle("POST /api/v1/holds/{id}/capture", authn(handleCaptureHold(log, l)))
	mux.Handle("POST /api/v1/holds/{id}/void", authn(handleVoidHold(log, l)))
	mux.Handle("GET /api/v1/holds/{id}", authn(handleGetHold(log, l)))
	mux.Handle("GET /api/v1/accounts/{id}/holds", authn(handleListHolds(log, l)))
	mux.Handle("POST /api/v1/transactions/{id}/reverse", authn(staff(handleReverse(log, gate))))
	mux.Handle("PATCH /api/v1/transactions/{id}/metadata", authn(staff(handleSetMetadata(log, l))))
}
