// Package migrations holds the numbered, forward-only schema migrations, one
// folder per SQL dialect. Each release's schema must stay readable by the
// release before it (expand, then contract), so a rollback never meets a schema
// it cannot use.
package migrations

import "embed"

// FS holds postgres/NNNN_*.sql and sqlite/NNNN_*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
