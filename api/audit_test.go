package api_test

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/api"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/payment"
)

// TestAuditActionsDocumented: every action a service writes to the audit
// trail is in AuditEntry's enum, and the enum names no action nobody
// writes, so a client that validates answers against the document accepts
// every entry of GET /api/v1/audit.
func TestAuditActionsDocumented(t *testing.T) {
	written := []string{
		auth.AuditRoleChanged, auth.AuditLocked, auth.AuditUnlocked, auth.AuditLoggedOutEverywhere,
		auth.AuditFamilyRevoked, auth.AuditTokenOfMissingUser,
		ledger.AuditDeposit, ledger.AuditWithdrawalOnBehalf, ledger.AuditReversal, ledger.AuditFrozen,
		ledger.AuditUnfrozen, ledger.AuditClosed, ledger.AuditOverdraftLimit,
		payment.AuditLimitsSet,
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := doc.Components.Schemas["AuditEntry"].Properties["action"].Enum
	slices.Sort(written)
	slices.Sort(documented)
	if !slices.Equal(written, documented) {
		t.Errorf("AuditEntry.action enum\n %v\nwant the actions the services write\n %v", documented, written)
	}
}
