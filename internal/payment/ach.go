package payment

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moov-io/ach"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/store"
)

// ACHConfig configures the ACH rail.
type ACHConfig struct {
	OutDir      string // where the NACHA files of submitted batches are written
	ReturnDir   string // where return files arrive; read ones move to processed/
	Origin      string // the bank's ABA routing number (ODFI)
	CompanyName string
	CompanyID   string
	// SettleDelay is how long after its file an entry counts as settled
	// (ACH credits settle on the effective date unless returned).
	SettleDelay time.Duration
}

// ACHRail sends payments as NACHA files of PPD credits, written with
// github.com/moov-io/ach, and reads return files back with it. What it sent
// is recorded in the database by payment id, in the same transaction as the
// file's content, before the file is written: a payment is in one file
// only, and a file lost to a crash before it reached the disk is written
// again from the database.
type ACHRail struct {
	db  *store.DB
	cfg ACHConfig
	now func() time.Time
}

// NewACHRail returns an ACH rail over db; it checks the configuration and
// makes its folders.
func NewACHRail(db *store.DB, cfg ACHConfig, now func() time.Time) (*ACHRail, error) {
	if checkRouting(cfg.Origin) != nil {
		return nil, errors.New("ACH rail: the origin must be a valid 9-digit ABA routing number")
	}
	if cfg.OutDir == "" || cfg.ReturnDir == "" {
		return nil, errors.New("ACH rail: the outbound and return folders are required")
	}
	for _, d := range []string{cfg.OutDir, filepath.Join(cfg.ReturnDir, "processed")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("ACH rail: %w", err)
		}
	}
	return &ACHRail{db: db, cfg: cfg, now: now}, nil
}

// Name is "ach".
func (r *ACHRail) Name() string { return "ach" }

// Submit writes the batch's new payments into one NACHA file. A payment the
// rail already has is not written again; one ACH cannot carry (not USD, or
// not a US account) is rejected.
func (r *ACHRail) Submit(ctx context.Context, batch []Instruction) ([]Receipt, error) {
	out := make([]Receipt, len(batch))
	var carry []Instruction
	now := r.now().UTC().Truncate(time.Microsecond)
	for i, in := range batch {
		out[i].PaymentID = in.PaymentID
		if out[i].Rejected = r.refusal(in, now); out[i].Rejected == "" {
			carry = append(carry, in)
		}
	}
	if len(carry) > 0 {
		err := r.db.InTx(ctx, func(tx *sql.Tx) error {
			if r.db.Dialect == store.Postgres {
				// Trace numbers are numbered in order: one file at a time.
				if _, err := tx.ExecContext(ctx, `LOCK TABLE payment_ach_files IN EXCLUSIVE MODE`); err != nil {
					return err
				}
			}
			var fresh []Instruction
			for _, in := range carry {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_ach_entries WHERE payment_id = $1`, in.PaymentID).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					fresh = append(fresh, in)
				}
			}
			if len(fresh) == 0 {
				return nil
			}
			var seq, files int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_ach_entries`).Scan(&seq); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_ach_files`).Scan(&files); err != nil {
				return err
			}
			content, traces, err := r.file(fresh, seq, files, now)
			if err != nil {
				return err
			}
			id := bank.NewID()
			name := fmt.Sprintf("%s-%06d.ach", now.Format("20060102-150405"), files+1)
			if _, err := tx.ExecContext(ctx, `INSERT INTO payment_ach_files (id, name, content, written, created_at)
				VALUES ($1, $2, $3, FALSE, $4)`, id, name, content, now); err != nil {
				return err
			}
			for i, in := range fresh {
				if _, err := tx.ExecContext(ctx, `INSERT INTO payment_ach_entries (payment_id, file_id, trace_number, amount,
					sent_at, settled, returned) VALUES ($1, $2, $3, $4, $5, FALSE, FALSE)`,
					in.PaymentID, id, traces[i], in.Amount, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("ACH rail: %w", err)
		}
	}
	return out, r.flush(ctx)
}

// refusal says why ACH cannot carry in, or "" when it can: it carries USD
// to US accounts, and only what a NACHA entry holds (an amount of at most
// 10 digits, a name with a letter or a digit other than 0 once upper-cased
// to ASCII). A payment refused here fails alone instead of failing the
// file of every payment submitted with it.
func (r *ACHRail) refusal(in Instruction, now time.Time) string {
	if in.Currency != "USD" || in.Beneficiary.RoutingNumber == "" {
		return "ach_unsupported: ACH carries USD payments to US accounts only"
	}
	if _, _, err := r.file([]Instruction{in}, 0, 0, now); err != nil {
		return "ach_unsupported: a NACHA entry cannot carry this payment (an amount above 99,999,999.99 or a name without a letter or digit)"
	}
	return ""
}

// file renders the NACHA file of one submission: a PPD batch of credits
// (service class 220), entry i with the trace number ODFI + (seq+i+1) and
// the identification number the last 15 characters of its payment id (a
// return is matched by its original trace number, unique in the database).
func (r *ACHRail) file(fresh []Instruction, seq, files int64, now time.Time) (string, []string, error) {
	odfi := r.cfg.Origin[:8]
	bh := ach.NewBatchHeader()
	bh.ServiceClassCode = ach.CreditsOnly
	bh.CompanyName = achText(r.cfg.CompanyName)
	bh.CompanyIdentification = achText(r.cfg.CompanyID)
	bh.StandardEntryClassCode = ach.PPD
	bh.CompanyEntryDescription = "PAYMENT"
	bh.EffectiveEntryDate = now.AddDate(0, 0, 1).Format("060102")
	bh.ODFIIdentification = odfi
	bh.BatchNumber = 1
	batch, err := ach.NewBatch(bh)
	if err != nil {
		return "", nil, err
	}
	traces := make([]string, len(fresh))
	for i, in := range fresh {
		traces[i] = odfi + fmt.Sprintf("%07d", (seq+int64(i)+1)%10_000_000)
		ed := ach.NewEntryDetail()
		ed.TransactionCode = ach.CheckingCredit
		ed.SetRDFI(in.Beneficiary.RoutingNumber)
		ed.DFIAccountNumber = achText(in.Beneficiary.AccountNumber)
		ed.Amount = int(in.Amount)
		ed.IdentificationNumber = lastN(in.PaymentID, 15)
		ed.IndividualName = achText(in.Beneficiary.Name)
		ed.TraceNumber = traces[i]
		batch.AddEntry(ed)
	}
	if err := batch.Create(); err != nil {
		return "", nil, err
	}
	f := ach.NewFile()
	f.Header = ach.NewFileHeader()
	f.Header.ImmediateDestination = r.cfg.Origin
	f.Header.ImmediateOrigin = r.cfg.Origin
	f.Header.ImmediateDestinationName = "FEDERAL RESERVE"
	f.Header.ImmediateOriginName = achText(r.cfg.CompanyName)
	f.Header.FileCreationDate = now.Format("060102")
	f.Header.FileCreationTime = now.Format("1504")
	f.Header.FileIDModifier = string("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[files%26])
	f.AddBatch(batch)
	if err := f.Create(); err != nil {
		return "", nil, err
	}
	if err := f.Validate(); err != nil {
		return "", nil, err
	}
	var b strings.Builder
	if err := ach.NewWriter(&b).Write(f); err != nil {
		return "", nil, err
	}
	return b.String(), traces, nil
}

// achText is s upper-cased with every character a NACHA field cannot
// hold (outside printable ASCII) a space.
func achText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, strings.ToUpper(s))
}

// lastN returns the last n bytes of s (the identification number holds 15).
func lastN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// flush writes every file recorded but not yet on disk: write to a
// temporary name, sync, rename, then mark it written.
func (r *ACHRail) flush(ctx context.Context) error {
	rows, err := r.db.QueryContext(ctx, `SELECT id, name, content FROM payment_ach_files WHERE written = FALSE ORDER BY name`)
	if err != nil {
		return fmt.Errorf("ACH rail: %w", err)
	}
	type file struct{ id, name, content string }
	var files []file
	for rows.Next() {
		var f file
		if err := rows.Scan(&f.id, &f.name, &f.content); err != nil {
			rows.Close()
			return err
		}
		files = append(files, f)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(r.cfg.OutDir, f.name)
		tmp, err := os.CreateTemp(r.cfg.OutDir, ".tmp-"+f.name)
		if err != nil {
			return fmt.Errorf("ACH rail: %w", err)
		}
		_, err = tmp.WriteString(f.content)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("ACH rail: write %s: %w", path, err)
		}
		if _, err := r.db.ExecContext(ctx, `UPDATE payment_ach_files SET written = TRUE WHERE id = $1`, f.id); err != nil {
			return fmt.Errorf("ACH rail: %w", err)
		}
	}
	return nil
}

// readReturns records the returns of every file in the return folder, then
// moves the file to processed/. A file read twice (a crash before the move)
// changes nothing the second time.
func (r *ACHRail) readReturns(ctx context.Context) error {
	entries, err := os.ReadDir(r.cfg.ReturnDir)
	if err != nil {
		return fmt.Errorf("ACH rail: %w", err)
	}
	for _, de := range entries {
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		path := filepath.Join(r.cfg.ReturnDir, de.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("ACH rail: %w", err)
		}
		returns, err := readReturnFile(b)
		if err != nil {
			return fmt.Errorf("ACH rail: return file %s: %w", de.Name(), err)
		}
		for _, ret := range returns {
			if _, err := r.db.ExecContext(ctx, `UPDATE payment_ach_entries SET return_code = $2
				WHERE trace_number = $1 AND return_code IS NULL`, ret.originalTrace, ret.code); err != nil {
				return fmt.Errorf("ACH rail: %w", err)
			}
		}
		if err := os.Rename(path, filepath.Join(r.cfg.ReturnDir, "processed", de.Name())); err != nil {
			return fmt.Errorf("ACH rail: %w", err)
		}
	}
	return nil
}

// achReturn is one returned entry of a return file: the trace number of
// the entry this bank sent, and the return code (R01…).
type achReturn struct {
	originalTrace, code string
}

// readReturnFile reads the returns of a NACHA return file: its entries
// with an addenda 99. A file moov-io/ach cannot read or validate is an
// error.
func readReturnFile(b []byte) ([]achReturn, error) {
	f, err := ach.NewReader(bytes.NewReader(b)).Read()
	if err == nil {
		err = f.Validate()
	}
	if err != nil {
		return nil, err
	}
	var out []achReturn
	for _, batch := range f.Batches {
		for _, e := range batch.GetEntries() {
			if e.Addenda99 != nil {
				out = append(out, achReturn{originalTrace: e.Addenda99.OriginalTrace, code: e.Addenda99.ReturnCode})
			}
		}
	}
	return out, nil
}

// Poll reads new return files, then answers returns, and settlements of the
// entries whose files are older than SettleDelay.
func (r *ACHRail) Poll(ctx context.Context, max int) ([]Outcome, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	if err := r.readReturns(ctx); err != nil {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT payment_id, settled, return_code FROM payment_ach_entries
		WHERE (settled = FALSE AND sent_at <= $1) OR (return_code IS NOT NULL AND returned = FALSE)
		ORDER BY sent_at LIMIT $2`, r.now().UTC().Add(-r.cfg.SettleDelay), max)
	if err != nil {
		return nil, fmt.Errorf("ACH rail: %w", err)
	}
	defer rows.Close()
	var out []Outcome
	for rows.Next() {
		var id string
		var settled bool
		var code sql.NullString
		if err := rows.Scan(&id, &settled, &code); err != nil {
			return nil, err
		}
		if code.Valid {
			reason := code.String
			if rc := ach.LookupReturnCode(code.String); rc != nil {
				reason += ": " + strings.ToLower(rc.Reason)
			}
			out = append(out, Outcome{PaymentID: id, Kind: OutcomeReturned, Reason: reason})
			continue
		}
		out = append(out, Outcome{PaymentID: id, Kind: OutcomeSettled})
	}
	return out, rows.Err()
}

// Ack marks outcomes delivered.
func (r *ACHRail) Ack(ctx context.Context, done []Outcome) error {
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, o := range done {
			q := `UPDATE payment_ach_entries SET settled = TRUE WHERE payment_id = $1`
			if o.Kind == OutcomeReturned {
				q = `UPDATE payment_ach_entries SET settled = TRUE, returned = TRUE WHERE payment_id = $1`
			}
			if _, err := tx.ExecContext(ctx, q, o.PaymentID); err != nil {
				return fmt.Errorf("ACH rail: %w", err)
			}
		}
		return nil
	})
}

// Files returns the names of the files the rail wrote, oldest first.
func (r *ACHRail) Files() ([]string, error) {
	entries, err := os.ReadDir(r.cfg.OutDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".ach") {
			out = append(out, filepath.Join(r.cfg.OutDir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}
