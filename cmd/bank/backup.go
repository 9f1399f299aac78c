package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fintech-banking/bank/internal/ledger"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/store"
)

// progressTo returns an ops.Progress that shows each step, and a bar while
// a step moves bytes, on w when w is a terminal; in scripts and logs it stays
// quiet. Close ends the bar's line.
func progressTo(w io.Writer) interface {
	ops.Progress
	Count(done, total int64)
	Close()
} {
	f, ok := w.(*os.File)
	if !ok {
		return quietProgress{}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return quietProgress{}
	}
	return &terminalProgress{w: w, start: time.Now()}
}

type quietProgress struct{ ops.Quiet }

func (quietProgress) Close()                  {}
func (quietProgress) Count(done, total int64) {}

// terminalProgress writes a line per step and redraws one bar in place.
type terminalProgress struct {
	w     io.Writer
	start time.Time

	mu    sync.Mutex
	drawn time.Time
	bar   bool // the current line holds a bar
}

func (p *terminalProgress) Step(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endBar()
	fmt.Fprintf(p.w, "[%5.1fs] %s…\n", time.Since(p.start).Seconds(), name)
}

func (p *terminalProgress) Bytes(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.drawn) < 100*time.Millisecond && done != total {
		return
	}
	p.drawn, p.bar = time.Now(), true
	fmt.Fprint(p.w, "\r"+progressBar(done, total))
	if done == total {
		p.endBar() // complete: what follows starts on a line of its own
	}
}

// Count draws a bar of done of total items.
func (p *terminalProgress) Count(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.drawn) < 100*time.Millisecond && done != total {
		return
	}
	p.drawn, p.bar = time.Now(), true
	fmt.Fprint(p.w, "\r"+bar(done, total, fmt.Sprintf("%d of %d", done, total)))
	if done == total {
		p.endBar()
	}
}

func (p *terminalProgress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endBar()
}

func (p *terminalProgress) endBar() {
	if p.bar {
		fmt.Fprintln(p.w)
		p.bar = false
	}
}

// progressBar draws done of total bytes, or the bytes alone when the total
// is not known: "  [=========>          ]  45%  12.3 MB of 27.1 MB".
func progressBar(done, total int64) string {
	if total <= 0 {
		return "  " + byteSize(done) + "   "
	}
	return bar(done, total, byteSize(done)+" of "+byteSize(total))
}

// bar draws done of total with text after it.
func bar(done, total int64, text string) string {
	if total <= 0 {
		return "  " + text + "   "
	}
	const width = 30
	f := min(float64(done)/float64(total), 1)
	n := int(f * width)
	head := ""
	if n < width {
		head = ">"
	}
	return fmt.Sprintf("  [%s%s%s] %3.0f%%  %s   ", strings.Repeat("=", n), head,
		strings.Repeat(" ", max(width-n-len(head), 0)), f*100, text)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func backupCmd(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("backup "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	// A backup holds the whole database, password hashes included: by
	// default it goes under the data folder, which .gitignore covers, not
	// into the working directory.
	defDir := getenv("BANK_BACKUP_DIR")
	if defDir == "" {
		defDir = filepath.Join(cmp.Or(getenv("BANK_DATA_DIR"), cfg.DataDir), "backups")
	}
	dir := fs.String("dir", defDir, "folder of the backups ($BANK_BACKUP_DIR)")
	output := outputFlag(fs)
	to := fs.String("to", "", "the database to restore into (default: a new database beside the configured one)")
	force := fs.Bool("force", false, "replace the data of the --to database")
	var name string
	if sub == "restore" || sub == "verify" {
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			name, args = args[0], args[1:]
		}
	}
	if err := cfg.load(fs, args, getenv, databaseOnly...); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if (sub == "restore" || sub == "verify") && name == "" {
		return usagef("backup %s needs the name of a backup (see \"bank backup list\")", sub)
	}
	if sub != "restore" && (*to != "" || *force) {
		return usagef("--to and --force are for backup restore")
	}
	progress := progressTo(stderr)
	defer progress.Close()
	folder := filepath.Join(*dir, filepath.Base(name))
	if name != "" {
		if _, err := os.Stat(filepath.Join(folder, ops.ManifestFile)); err != nil {
			return fmt.Errorf("there is no backup named %q in %s (see \"bank backup list --dir %s\")", name, *dir, *dir)
		}
	}
	switch sub {
	case "create":
		db, err := openExisting(ctx, &cfg, "bank-backup")
		if err != nil {
			return err
		}
		defer db.Close()
		m, err := ops.CreateBackup(ctx, db, cfg.DatabaseURL, *dir, time.Now(), progress)
		if err != nil {
			return err
		}
		return printOutput(stdout, *output, m, func(w io.Writer) {
			fmt.Fprintf(w, "created %s in %s (%d bytes, schema version %d)\n", m.Name, *dir, m.Files[0].Bytes, m.SchemaVersion)
		})
	case "list":
		ms, err := ops.ListBackups(*dir)
		if err != nil {
			return err
		}
		return printOutput(stdout, *output, ms, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tDATABASE\tSCHEMA\tBYTES\tTRANSACTIONS")
			for _, m := range ms {
				var bytes int64
				for _, f := range m.Files {
					bytes += f.Bytes
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", m.Name, m.CreatedAt.Format(time.RFC3339), m.Dialect, m.SchemaVersion, bytes, m.Rows["transactions"])
			}
			tw.Flush()
		})
	case "restore":
		target := *to
		if target == "" {
			target = ops.ScratchURL(cfg.DatabaseURL, "restored", sqliteDir(cfg.DatabaseURL))
		} else if *force && target == cfg.DatabaseURL {
			progress.Step("replacing the configured database")
		}
		if _, err := ops.Restore(ctx, folder, target, *force, progress); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored %s into %s\n", name, redactedURL(target))
		return nil
	case "verify":
		r, err := verifyBackup(ctx, folder, cfg.DatabaseURL, progress)
		if err != nil {
			return err
		}
		if err := printOutput(stdout, *output, r, func(w io.Writer) { _ = r.WriteTable(w) }); err != nil {
			return err
		}
		return reportExit(r)
	}
	return usagef("unknown command \"backup %s\"", sub)
}

// verifyBackup restores the backup in folder into a scratch database beside
// dbURL, runs the ledger check on it and compares its figures with the
// manifest's; the scratch database is removed after.
func verifyBackup(ctx context.Context, folder, dbURL string, progress ops.Progress) (ops.Report, error) {
	tmp, err := os.MkdirTemp("", "bank-verify-")
	if err != nil {
		return ops.Report{}, err
	}
	defer os.RemoveAll(tmp)
	scratch := ops.ScratchURL(dbURL, "verify", tmp)
	m, err := ops.Restore(ctx, folder, scratch, false, progress)
	if err != nil {
		return ops.NewReport([]ops.Check{{Name: "restore", Level: ops.Crit, Detail: err.Error()}}), nil
	}
	if m.Dialect == store.Postgres {
		defer func() { _ = ops.DropDatabase(context.WithoutCancel(ctx), scratch) }()
	}
	checks := []ops.Check{{Name: "checksums", Level: ops.OK, Detail: fmt.Sprintf("%d file(s) match the manifest", len(m.Files))},
		{Name: "restore", Level: ops.OK, Detail: "into a scratch database"}}
	db, err := store.Open(ctx, scratch, store.Options{AppName: "bank-verify", MaxConns: 2})
	if err != nil {
		return ops.Report{}, err
	}
	defer db.Close()
	progress.Step("checking the ledger")
	rep, err := ledger.New(db, slog.New(slog.DiscardHandler), time.Now, ledger.DefaultConfig()).Verify(ctx)
	switch {
	case err != nil:
		checks = append(checks, ops.Check{Name: "ledger invariant", Level: ops.Crit, Detail: err.Error()})
	case !rep.OK():
		checks = append(checks, ops.Check{Name: "ledger invariant", Level: ops.Crit, Detail: fmt.Sprintf("%d violations, the first: %s", len(rep.Violations), rep.Violations[0])})
	default:
		checks = append(checks, ops.Check{Name: "ledger invariant", Level: ops.OK, Detail: fmt.Sprintf("%d transactions, every balance matches its postings", rep.Transactions)})
	}
	v, rows, totals, err := ops.Contents(ctx, db, db.Dialect)
	c := ops.Check{Name: "contents", Level: ops.OK, Detail: "schema version, row counts and ledger totals match the manifest"}
	if err != nil {
		c.Level, c.Detail = ops.Crit, err.Error()
	} else if diffs := ops.CompareContents(m, v, rows, totals); len(diffs) > 0 {
		c.Level, c.Detail = ops.Crit, strings.Join(diffs, "; ")
	}
	return ops.NewReport(append(checks, c)), nil
}

// sqliteDir is the folder of a SQLite database URL ("." otherwise).
func sqliteDir(dbURL string) string {
	if path, ok := strings.CutPrefix(dbURL, "sqlite://"); ok {
		return filepath.Dir(path)
	}
	return "."
}

func redactedURL(raw string) string {
	if strings.HasPrefix(raw, "sqlite://") {
		return raw
	}
	return databaseLocation(raw)
}
