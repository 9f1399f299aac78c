package bank

// Role is what a user may do.
type Role string

// The roles. Operators work the back office (see every customer, deposit cash,
// freeze accounts, reverse transactions); admins also manage operators.
const (
	RoleCustomer Role = "customer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleCustomer || r == RoleOperator || r == RoleAdmin }

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID string
	Role   Role
}

// Staff reports whether p works for the bank (operator or admin) and so may see
// every customer's resources.
func (p Principal) Staff() bool { return p.Role == RoleOperator || p.Role == RoleAdmin }

// Owns reports whether p may see a resource owned by ownerID: its owner, or staff.
// Queries scope by owner with OwnerScope; this is for a resource already loaded.
func (p Principal) Owns(ownerID string) bool { return p.Staff() || p.UserID == ownerID }

// OwnerScope is the owner id a query must be restricted to: the caller's own id
// for a customer, "" (everyone) for staff. Scoping is the default: a handler has
// to ask for staff to see more.
func (p Principal) OwnerScope() string {
	if p.Staff() {
		return ""
	}
	return p.UserID
}
