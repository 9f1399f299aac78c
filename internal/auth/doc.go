// Package auth is the auth-service: users and their passwords (argon2id),
// short-lived JWT access tokens signed with the jwt-secret key, rotating
// refresh tokens, login lockout and rate limiting, and the middleware every
// other service uses to turn a bearer token into a Principal.
//
// Every other service only verifies tokens (Keyring, Verifier, Middleware);
// only this one issues them (Service).
package auth
