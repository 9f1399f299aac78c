// Package auth is the auth-service: users and their passwords (argon2id,
// NIST SP 800-63B rules), short-lived JWT access tokens signed with the
// jwt-secret key, rotating refresh tokens, failed-login throttling and rate
// limiting, staff locks and role changes with their audit trail, and the
// middleware every other service uses to turn a bearer token into a
// Principal.
//
// Every other service only verifies tokens (Keyring, Verifier, Middleware);
// only this one issues them (Service). Verification is local and cached, and
// checked against the user's current state (UserStates): a role change, a
// lock, a removal or a logout everywhere applies on the next request on the
// replica that made it and within UserStateTTL on the others.
package auth
