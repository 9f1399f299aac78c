package recon

import (
	"github.com/fintech-banking/bank/internal/ledger"
)

// Item statuses.
const (
	StatusMatched         = "matched"
	StatusMismatched      = "mismatched"
	StatusUnmatchedOurs   = "unmatched_ours"
	StatusUnmatchedTheirs = "unmatched_theirs"
)

// Item is one outcome of matching: a pair of a posting (ours) and a
// statement line (theirs), or either alone.
type Item struct {
	ID         int           `json:"id"`
	Status     string        `json:"status"`
	Ours       *ledger.Entry `json:"ours,omitempty"`
	Theirs     *Line         `json:"theirs,omitempty"`
	Difference *Difference   `json:"difference,omitempty"`
	// TransactionID is the suspense posting that cleared the item.
	TransactionID string `json:"transaction_id,omitempty"`
}

// Difference is theirs less ours: in amount (minor units) and in booking
// date (days).
type Difference struct {
	Amount int64 `json:"amount"`
	Days   int   `json:"days"`
}

// Match pairs lines with entries one to one, deterministically: first by
// reference (a pair whose amount or date, beyond tolerance days, differs is
// mismatched), then what is left by equal amount within tolerance days, the
// nearest date first and the earliest entry among equals. What is left on
// either side is unmatched. Items come in the order of the lines, then the
// entries left over. It takes time linear in the lines and entries.
func Match(entries []ledger.Entry, lines []Line, tolerance int) []Item {
	used := make([]bool, len(entries))
	byRef := map[string][]int{}
	for i := range entries {
		for _, r := range entries[i].References() {
			byRef[r] = append(byRef[r], i)
		}
	}
	paired := make([]int, len(lines)) // the entry of each line, or -1
	for j := range lines {
		paired[j] = -1
		for _, r := range lines[j].References {
			if i := take(byRef, r, used); i >= 0 {
				paired[j], used[i] = i, true
				break
			}
		}
	}
	// By amount and day: entries not yet paired, in order, per (amount, day).
	type key struct {
		amount int64
		day    int
	}
	byAmount := map[key][]int{}
	for i := range entries {
		if !used[i] {
			k := key{entries[i].Amount, dayOf(entries[i].CreatedAt)}
			byAmount[k] = append(byAmount[k], i)
		}
	}
	byAmountPaired := make([]bool, len(lines))
	for j := range lines {
		if paired[j] >= 0 {
			continue
		}
		for _, d := range nearest(tolerance) {
			if i := take(byAmount, key{lines[j].Amount, lines[j].day + d}, used); i >= 0 {
				paired[j], used[i], byAmountPaired[j] = i, true, true
				break
			}
		}
	}
	items := make([]Item, 0, len(lines))
	for j := range lines {
		it := Item{Status: StatusUnmatchedTheirs, Theirs: &lines[j]}
		if i := paired[j]; i >= 0 {
			it.Ours = &entries[i]
			diff := Difference{Amount: lines[j].Amount - entries[i].Amount, Days: lines[j].day - dayOf(entries[i].CreatedAt)}
			it.Status = StatusMatched
			if !byAmountPaired[j] && (diff.Amount != 0 || diff.Days > tolerance || diff.Days < -tolerance) {
				it.Status, it.Difference = StatusMismatched, &diff
			}
		}
		items = append(items, it)
	}
	for i := range entries {
		if !used[i] {
			items = append(items, Item{Status: StatusUnmatchedOurs, Ours: &entries[i]})
		}
	}
	for n := range items {
		items[n].ID = n + 1
	}
	return items
}

// take returns the first entry of m[k] not yet used, or -1. It drops the
// used ones it passes from m[k], so that many entries of one amount and day
// cost each a single look.
func take[K comparable](m map[K][]int, k K, used []bool) int {
	q, ok := m[k]
	if !ok {
		return -1
	}
	for len(q) > 0 && used[q[0]] {
		q = q[1:]
	}
	m[k] = q
	if len(q) == 0 {
		return -1
	}
	return q[0]
}

// nearest lists the day offsets within tolerance, nearest first: 0, -1, 1, -2, 2, …
func nearest(tolerance int) []int {
	ds := []int{0}
	for d := 1; d <= tolerance; d++ {
		ds = append(ds, -d, d)
	}
	return ds
}
