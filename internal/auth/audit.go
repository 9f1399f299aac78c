package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/bank"
)

// The actions of the audit trail that auth-service writes.
const (
	AuditRoleChanged         = "user.role_changed"
	AuditLocked              = "user.locked"
	AuditUnlocked            = "user.unlocked"
	AuditLoggedOutEverywhere = "user.logged_out_everywhere"
	AuditFamilyRevoked       = "session.family_revoked"
	AuditTokenOfMissingUser  = "token.user_missing"
)

// AuditEntry is one record of the audit trail: who (ActorID, "" for
// nobody known) did what (Action) to whom (TargetID), when and from where
// (ClientIP, RequestID).
type AuditEntry struct {
	ID         string            `json:"id"`
	OccurredAt time.Time         `json:"occurred_at"`
	ActorID    string            `json:"actor_id"`
	Action     string            `json:"action"`
	TargetID   string            `json:"target_id"`
	ClientIP   string            `json:"client_ip"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details,omitempty"`
}

// AuditFilter selects audit records: by actor, by action, and in time (From
// inclusive, To exclusive). Zero fields select everything.
type AuditFilter struct {
	ActorID, Action string
	From, To        time.Time
	Limit           int
	Cursor          string
}

// auditCursor is the keyset of the last record of a page.
type auditCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Audit lists audit records for admin, newest first, a page at a time. It
// returns KindForbidden unless admin is an admin and KindInvalid for a cursor
// it did not return.
func (s *Service) Audit(ctx context.Context, admin Principal, f AuditFilter) ([]AuditEntry, string, error) {
	if admin.Role != RoleAdmin {
		return nil, "", bank.Errorf(bank.KindForbidden, "forbidden", "this action needs the admin role")
	}
	q := `SELECT id, occurred_at, actor_id, action, target_id, client_ip, request_id, details FROM audit_log WHERE 1 = 1`
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To.UTC())
	}
	if f.Cursor != "" {
		var c auditCursor
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.ID == "" {
			return nil, "", bank.Invalid("cursor", "is not a cursor this API returned")
		}
		args = append(args, c.At.UTC(), c.ID)
		q += fmt.Sprintf(" AND (occurred_at, id) < ($%d, $%d)", len(args)-1, len(args))
	}
	args = append(args, f.Limit+1)
	q += fmt.Sprintf(" ORDER BY occurred_at DESC, id DESC LIMIT $%d", len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	entries := []AuditEntry{}
	for rows.Next() {
		var (
			e       AuditEntry
			details string
		)
		if err := rows.Scan(&e.ID, &e.OccurredAt, &e.ActorID, &e.Action, &e.TargetID, &e.ClientIP, &e.RequestID, &details); err != nil {
			return nil, "", fmt.Errorf("list audit records: %w", err)
		}
		e.OccurredAt = e.OccurredAt.UTC()
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, "", fmt.Errorf("audit record %s: details: %w", e.ID, err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", err)
	}
	next := ""
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		last := entries[len(entries)-1]
		b, _ := json.Marshal(auditCursor{At: last.OccurredAt, ID: last.ID})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return entries, next, nil
}
