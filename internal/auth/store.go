package auth

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fintech-banking/bank/internal/store"
)

// The SQL of this package runs unchanged on PostgreSQL and SQLite: $n
// placeholders, times passed as time.Time in UTC. Only row locks differ: a
// SQLite write transaction already holds the database's write lock (it begins
// IMMEDIATE), so "FOR UPDATE" is PostgreSQL's alone.

// querier is what both *store.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// forUpdate is the row-locking suffix of a SELECT inside a write transaction.
func forUpdate(db *store.DB) string {
	if db.Dialect == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// userRow is a users row. Its failed_logins column is no longer used: failed
// logins are throttled per email and client address (login_throttle).
type userRow struct {
	User
	passwordHash string
	lockedUntil  time.Time // zero when not locked
	tokenVersion int64
}

// lockedAt reports whether the user is locked at now.
func (u userRow) lockedAt(now time.Time) bool { return u.lockedUntil.After(now) }

const userColumns = `id, email, name, role, password_hash, locked_until, token_version, created_at`

func scanUser(row *sql.Row) (userRow, error) {
	var (
		u      userRow
		locked sql.NullTime
	)
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.passwordHash, &locked, &u.tokenVersion, &u.CreatedAt)
	if err != nil {
		return u, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	if locked.Valid {
		u.lockedUntil = locked.Time.UTC()
	}
	return u, nil
}

// loginUser reads the user with email email for a login, and reports whether
// there is one. It returns one row, of NULLs when there is none, so that the
// work of reading it is the same whether or not the email has an account.
func loginUser(ctx context.Context, q querier, email string) (userRow, bool, error) {
	var (
		u                        userRow
		id, em, name, role, hash sql.NullString
		locked, created          sql.NullTime
		version                  sql.NullInt64
	)
	err := q.QueryRowContext(ctx, `SELECT u.id, u.email, u.name, u.role, u.password_hash, u.locked_until, u.token_version, u.created_at
		FROM (SELECT 1 AS one) AS x LEFT JOIN users u ON u.email = $1`, email).
		Scan(&id, &em, &name, &role, &hash, &locked, &version, &created)
	if err != nil || !id.Valid {
		return u, false, err
	}
	u.ID, u.Email, u.Name, u.Role, u.passwordHash = id.String, em.String, name.String, Role(role.String), hash.String
	u.tokenVersion, u.CreatedAt = version.Int64, created.Time.UTC()
	if locked.Valid {
		u.lockedUntil = locked.Time.UTC()
	}
	return u, true, nil
}

func userByID(ctx context.Context, q querier, id string) (userRow, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// userForUpdate reads the user with id id, locking its row until tx ends.
func userForUpdate(ctx context.Context, tx *sql.Tx, db *store.DB, id string) (userRow, error) {
	return scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`+forUpdate(db), id))
}

func insertUser(ctx context.Context, q querier, u User, passwordHash string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, failed_logins, created_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6)`, u.ID, u.Email, u.Name, string(u.Role), passwordHash, u.CreatedAt)
	return err
}

// refreshRow is a refresh_tokens row.
type refreshRow struct {
	familyID  string
	userID    string
	expiresAt time.Time
	revoked   bool
}

func refreshByHash(ctx context.Context, q querier, hash string) (refreshRow, error) {
	var (
		r       refreshRow
		revoked sql.NullTime
	)
	// Whether it is spent is not read: spendRefresh's conditional update is
	// the one judge of that, race-free.
	err := q.QueryRowContext(ctx, `SELECT family_id, user_id, expires_at, revoked_at
		FROM refresh_tokens WHERE token_hash = $1`, hash).Scan(&r.familyID, &r.userID, &r.expiresAt, &revoked)
	r.expiresAt = r.expiresAt.UTC()
	r.revoked = revoked.Valid
	return r, err
}

func insertRefresh(ctx context.Context, q querier, hash, familyID, userID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5)`, hash, familyID, userID, now.Add(RefreshTokenTTL), now)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// spendRefresh marks the token spent unless it already is, or is revoked; it
// reports whether this call spent it. The condition in the UPDATE, not an
// earlier read, decides: of two concurrent refreshes with one token, exactly
// one spends it.
func spendRefresh(ctx context.Context, q querier, hash string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = $2
		WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL`, hash, now)
	if err != nil {
		return false, fmt.Errorf("spend refresh token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("spend refresh token: %w", err)
	}
	return n == 1, nil
}

func revokeFamily(ctx context.Context, q querier, familyID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $2
		WHERE family_id = $1 AND revoked_at IS NULL`, familyID, now)
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// revokeFamilyOf revokes the family of the token with the given hash, if any.
func revokeFamilyOf(ctx context.Context, q querier, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $2
		WHERE revoked_at IS NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`, hash, now)
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// revokeUserFamilies revokes every refresh token of user userID: all of the
// user's sessions end at their next refresh.
func revokeUserFamilies(ctx context.Context, q querier, userID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
	if err != nil {
		return fmt.Errorf("revoke refresh tokens of user %s: %w", userID, err)
	}
	return nil
}
