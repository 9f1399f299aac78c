package approval

import (
	"fmt"
	"strconv"
	"strings"
)

// The staff actions a rule may name.
const (
	ActionDeposit        = "deposit"
	ActionWithdrawal     = "withdrawal"
	ActionReversal       = "reversal"
	ActionOverdraftLimit = "overdraft_limit"
	ActionFreeze         = "freeze"
	ActionUnfreeze       = "unfreeze"
	ActionClose          = "close"
	// ActionReconResolve clears a reconciliation's difference against the
	// suspense account (package recon).
	ActionReconResolve = "recon_resolve"
)

// withAmount are the actions whose rule may set a threshold: those that
// carry an amount.
var withAmount = map[string]bool{ActionDeposit: true, ActionWithdrawal: true, ActionOverdraftLimit: true, ActionReconResolve: true}

var known = map[string]bool{ActionDeposit: true, ActionWithdrawal: true, ActionReversal: true,
	ActionOverdraftLimit: true, ActionFreeze: true, ActionUnfreeze: true, ActionClose: true,
	ActionReconResolve: true}

// Rule holds one staff action for approval: every time, or when its amount
// is above Over.
type Rule struct {
	Action string
	Over   int64 // the amount, in minor units, above which Action is held
	Always bool  // no threshold: every request of Action is held
}

// Rules are the actions that need a second staff user, as
// BANK_APPROVAL_RULES names them. The zero value holds nothing.
type Rules []Rule

// ParseRules reads a comma-separated list of rules such as
// "deposit>1000000,withdrawal>1000000,reversal,overdraft_limit,unfreeze":
// an action alone holds every request of it; "action>N" holds those whose
// amount (minor units) is above N. An empty string holds nothing. The error
// names the rule at fault.
func ParseRules(s string) (Rules, error) {
	var rs Rules
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		action, over, cut := strings.Cut(item, ">")
		action = strings.TrimSpace(action)
		r := Rule{Action: action, Always: !cut}
		switch {
		case !known[action]:
			return nil, fmt.Errorf("rule %q: unknown action %q; want deposit, withdrawal, reversal, overdraft_limit, freeze, unfreeze, close or recon_resolve", item, action)
		case seen[action]:
			return nil, fmt.Errorf("rule %q: %s has a rule already", item, action)
		case cut && !withAmount[action]:
			return nil, fmt.Errorf("rule %q: %s has no amount to compare", item, action)
		case cut:
			n, err := strconv.ParseInt(strings.TrimSpace(over), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("rule %q: the threshold must be a whole number of minor units, such as %s>1000000", item, action)
			}
			r.Over = n
		}
		seen[action] = true
		rs = append(rs, r)
	}
	return rs, nil
}

// Applies reports whether req needs approval under rs.
func (rs Rules) Applies(req Request) bool {
	for _, r := range rs {
		if r.Action != req.Action {
			continue
		}
		return r.Always || (req.Amount != nil && *req.Amount > r.Over)
	}
	return false
}

// String is rs as ParseRules reads it.
func (rs Rules) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Action
		if !r.Always {
			parts[i] += ">" + strconv.FormatInt(r.Over, 10)
		}
	}
	return strings.Join(parts, ",")
}
