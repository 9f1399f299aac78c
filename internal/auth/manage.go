package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/audit"
	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/event"
)

// lockedForever is locked_until for a lock that lasts until an operator
// lifts it. A release that reads locked_until as a time still honours it.
var lockedForever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// errNoUser is the answer about a user that does not exist, or that the
// caller may not manage.
var errNoUser = bank.Errorf(bank.KindNotFound, "user_not_found", "no such user")

// SetRole gives user id role role, as by admin. The user's access tokens stop
// working at once (their role is in them); a refresh gives new ones with the
// new role. It returns KindInvalid for an unknown role, KindForbidden when
// admin changes their own role (so that the last admin cannot demote
// themselves by mistake), and KindNotFound when there is no such user.
func (s *Service) SetRole(ctx context.Context, admin Principal, id string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, bank.Invalid("role", "must be customer, operator or admin")
	}
	if id == admin.UserID {
		return User{}, bank.Errorf(bank.KindForbidden, "forbidden", "an admin cannot change their own role")
	}
	return s.change(ctx, admin.UserID, id, AuditRoleChanged, func(tx *sql.Tx, u *userRow, now time.Time) (map[string]string, error) {
		details := map[string]string{"from": string(u.Role), "to": string(role)}
		if u.Role == role {
			return details, nil
		}
		u.Role = role
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = $2, token_version = token_version + 1 WHERE id = $1`, id, string(role))
		return details, err
	})
}

// Lock locks user id, as by staff member by: their access tokens and refresh
// tokens stop working and they cannot log in until Unlock. Operators may lock
// customers; admins anyone but themselves. It returns KindNotFound when there
// is no such user or by may not lock them, and KindForbidden when by locks
// themselves. Locking a locked user changes nothing.
func (s *Service) Lock(ctx context.Context, by Principal, id string) (User, error) {
	if id == by.UserID {
		return User{}, bank.Errorf(bank.KindForbidden, "forbidden", "staff cannot lock themselves")
	}
	return s.change(ctx, by.UserID, id, AuditLocked, func(tx *sql.Tx, u *userRow, now time.Time) (map[string]string, error) {
		if !mayManage(by, u.Role) {
			return nil, errNoUser
		}
		if u.lockedAt(now) {
			return map[string]string{"already": "locked"}, nil
		}
		u.lockedUntil = lockedForever
		if _, err := tx.ExecContext(ctx, `UPDATE users SET locked_until = $2, token_version = token_version + 1 WHERE id = $1`,
			id, lockedForever); err != nil {
			return nil, err
		}
		if err := revokeUserFamilies(ctx, tx, id, now); err != nil {
			return nil, err
		}
		return nil, event.Publish(ctx, tx, &event.Locked{Header: event.NewHeader(event.UserLocked, now),
			UserID: id, Email: u.Email, LockedBy: by.UserID})
	})
}

// Unlock lifts the lock of user id, as by staff member by, who may lock them.
// Their sessions stay ended: they log in again. It returns KindNotFound as
// Lock does.
func (s *Service) Unlock(ctx context.Context, by Principal, id string) (User, error) {
	return s.change(ctx, by.UserID, id, AuditUnlocked, func(tx *sql.Tx, u *userRow, now time.Time) (map[string]string, error) {
		if !mayManage(by, u.Role) {
			return nil, errNoUser
		}
		if u.lockedUntil.IsZero() {
			return map[string]string{"already": "unlocked"}, nil
		}
		u.lockedUntil = time.Time{}
		_, err := tx.ExecContext(ctx, `UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE id = $1`, id)
		return nil, err
	})
}

// LogoutEverywhere ends every session of user id: their refresh tokens are
// revoked and their access tokens stop working at once. It returns
// KindNotFound when there is no such user.
func (s *Service) LogoutEverywhere(ctx context.Context, id string) error {
	_, err := s.change(ctx, id, id, AuditLoggedOutEverywhere, func(tx *sql.Tx, u *userRow, now time.Time) (map[string]string, error) {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET token_version = token_version + 1 WHERE id = $1`, id); err != nil {
			return nil, err
		}
		return nil, revokeUserFamilies(ctx, tx, id, now)
	})
	return err
}

// mayManage reports whether staff member p may lock or unlock a user with
// role: operators manage customers, admins everyone.
func mayManage(p Principal, role Role) bool {
	return p.Role == RoleAdmin || (p.Role == RoleOperator && role == RoleCustomer)
}

// change applies fn to user id inside one transaction, with the user's row
// locked, and writes the audit record of action by actorID, with the details
// fn returns, in the same transaction; then it tells the token verifier and
// logs the security event. fn returns a *bank.Error to refuse the change,
// which is not audited.
func (s *Service) change(ctx context.Context, actorID, id, action string, fn func(tx *sql.Tx, u *userRow, now time.Time) (map[string]string, error)) (User, error) {
	now := s.clock()
	var u userRow
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = userForUpdate(ctx, tx, s.db, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoUser
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		details, err := fn(tx, &u, now)
		if err != nil {
			return err
		}
		return audit.Write(ctx, tx, now, audit.New(actorID, action, id, bank.OriginOf(ctx), details))
	})
	if err != nil {
		if bank.ErrorKind(err) != bank.KindInternal {
			return User{}, err
		}
		return User{}, fmt.Errorf("%s: user %s: %w", action, id, err)
	}
	s.changed(id)
	s.log.WarnContext(ctx, "security: "+action, "event", action, "user_id", id, "actor", actorID)
	return u.view(now), nil
}

// view is the user as staff see them: with whether they are locked.
func (u userRow) view(now time.Time) User {
	v := u.User
	v.Locked = u.lockedAt(now)
	return v
}
