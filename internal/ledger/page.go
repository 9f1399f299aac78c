package ledger

// Page asks for one page of a list, newest first (bank.Cursor says how).
type Page struct {
	Limit  int
	Cursor string
}
