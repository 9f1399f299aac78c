// Package ops holds what the on-call engineer's commands do: health checks
// of services, the database, the ledger and certificates, each graded OK,
// WARN, CRIT or UNKNOWN as monitoring plugins grade them, and the database's
// administration queries. cmd/bank turns them into commands.
package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Level grades a check.
type Level int

// The grades, in the order Worst ranks them (OK lowest).
const (
	OK Level = iota
	Warn
	Unknown // the check could not tell: it may hide a critical state
	Crit
)

var levelNames = [...]string{"OK", "WARN", "UNKNOWN", "CRIT"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalJSON writes the level as its name.
func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// ExitCode is the process status for l, as monitoring plugins use it: 0 OK,
// 1 warning, 2 critical, 3 unknown.
func (l Level) ExitCode() int {
	switch l {
	case OK:
		return 0
	case Warn:
		return 1
	case Crit:
		return 2
	}
	return 3
}

// Check is the result of one check.
type Check struct {
	Name   string `json:"name"`
	Level  Level  `json:"level"`
	Detail string `json:"detail"`
}

// Report is the result of several checks: its level is the worst of theirs.
type Report struct {
	Level  Level   `json:"level"`
	Checks []Check `json:"checks"`
}

// NewReport grades checks.
func NewReport(checks []Check) Report {
	r := Report{Level: OK, Checks: checks}
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	for _, c := range checks {
		r.Level = max(r.Level, c.Level)
	}
	return r
}

// WriteTable prints r as a table, one check a line, then the overall level.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Level, c.Detail)
	}
	fmt.Fprintf(tw, "overall\t%s\t\n", r.Level)
	return tw.Flush()
}

// grade returns Crit when v reaches crit, Warn when it reaches warn, else OK.
func grade(v, warn, crit float64) Level {
	switch {
	case v >= crit:
		return Crit
	case v >= warn:
		return Warn
	}
	return OK
}
