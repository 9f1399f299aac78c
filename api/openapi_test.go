package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fintech-banking/bank/api"
	"github.com/fintech-banking/bank/internal/account"
	"github.com/fintech-banking/bank/internal/approval"
	"github.com/fintech-banking/bank/internal/auth"
	"github.com/fintech-banking/bank/internal/notification"
	"github.com/fintech-banking/bank/internal/observe"
	"github.com/fintech-banking/bank/internal/ops"
	"github.com/fintech-banking/bank/internal/payment"
	"github.com/fintech-banking/bank/internal/recon"
	"github.com/fintech-banking/bank/internal/transaction"
)

// moneyMoving are the POSTs that API.md says move money. Each must refuse a
// request without an Idempotency-Key, and the document must say so.
var moneyMoving = []string{
	"POST /api/v1/deposits",
	"POST /api/v1/withdrawals",
	"POST /api/v1/transfers",
	"POST /api/v1/transfers/batch",
	"POST /api/v1/holds",
	"POST /api/v1/holds/{id}/capture",
	"POST /api/v1/holds/{id}/void",
	"POST /api/v1/transactions/{id}/reverse",
	"POST /api/v1/payments",
}

// actuatorRoutes are the endpoints API.md gives every service. The
// Actuator registers them on an *http.ServeMux, which cannot list its
// patterns, so the test probes a mux for each of these and for every other
// path the document has outside /api/.
var actuatorRoutes = []string{
	"GET /actuator/health",
	"GET /actuator/health/liveness",
	"GET /actuator/health/readiness",
	"GET /actuator/metrics",
	"GET /actuator/metrics/{name}",
	"GET /actuator/prometheus",
	"GET /metrics",
}

// TestDocumentMatchesRoutes fails when a route is served but not documented,
// or documented but not served, method and pattern alike.
func TestDocumentMatchesRoutes(t *testing.T) {
	for _, p := range routeProblems(parseDoc(api.OpenAPI), serviceRoutes(), actuatorMux()) {
		t.Error(p)
	}
}

// TestDocumentSecurityMatchesMiddleware fails when an operation's security
// disagrees with whether its route is behind the authentication middleware.
func TestDocumentSecurityMatchesMiddleware(t *testing.T) {
	for _, p := range securityProblems(parseDoc(api.OpenAPI), serviceRoutes()) {
		t.Error(p)
	}
}

// TestDocumentIdempotencyKeys fails when the document's Idempotency-Key
// headers disagree with the handlers that require one, or miss a
// money-moving POST.
func TestDocumentIdempotencyKeys(t *testing.T) {
	for _, p := range idempotencyProblems(parseDoc(api.OpenAPI), serviceRoutes()) {
		t.Error(p)
	}
}

// TestOperationsAreComplete checks what every operation must carry: a
// summary, a unique operationId, responses, and a declaration of each
// {wildcard} of its path as a required path parameter.
func TestOperationsAreComplete(t *testing.T) {
	doc := parseDoc(api.OpenAPI)
	if v, _ := doc.root.get("openapi"); v.value != "3.0.3" {
		t.Errorf("openapi is %q, want 3.0.3", v.value)
	}
	ids := map[string]string{}
	for _, op := range doc.sortedOps() {
		for _, field := range []string{"summary", "operationId", "responses"} {
			if _, ok := op.node.get(field); !ok {
				t.Errorf("%s: no %s", op.key, field)
			}
		}
		if id, ok := op.node.get("operationId"); ok {
			if other, dup := ids[id.value]; dup {
				t.Errorf("%s: operationId %q is also %s's", op.key, id.value, other)
			}
			ids[id.value] = op.key
		}
		for _, m := range wildcard.FindAllStringSubmatch(op.path, -1) {
			p, ok := doc.param(op, m[1])
			if !ok || p.in != "path" || !p.required {
				t.Errorf("%s: {%s} is not declared as a required path parameter", op.key, m[1])
			}
		}
	}
}

// TestChecksCanFail runs the checks on altered copies of the document: each
// alteration must be caught.
func TestChecksCanFail(t *testing.T) {
	served, mux := serviceRoutes(), actuatorMux()
	tests := []struct {
		name  string
		alter func(t *testing.T, src string) string
		check func(doc *document) []string
		want  string
	}{{
		name:  "an API path left out",
		alter: func(t *testing.T, src string) string { return withoutPath(t, src, "/api/v1/holds/{id}/void") },
		check: func(doc *document) []string { return routeProblems(doc, served, mux) },
		want:  "POST /api/v1/holds/{id}/void is served but not documented",
	}, {
		name:  "an actuator path left out",
		alter: func(t *testing.T, src string) string { return withoutPath(t, src, "/actuator/health/readiness") },
		check: func(doc *document) []string { return routeProblems(doc, served, mux) },
		want:  "GET /actuator/health/readiness is served but not documented",
	}, {
		name: "an API path that is not served",
		alter: func(t *testing.T, src string) string {
			return replaceAfter(t, src, "", "  /api/v1/deposits:\n", "  /api/v1/deposit:\n")
		},
		check: func(doc *document) []string { return routeProblems(doc, served, mux) },
		want:  "POST /api/v1/deposit is documented but not served",
	}, {
		name: "an actuator method that is not served",
		alter: func(t *testing.T, src string) string {
			return replaceAfter(t, src, "", "  /metrics:\n    get:\n", "  /metrics:\n    post:\n")
		},
		check: func(doc *document) []string { return routeProblems(doc, served, mux) },
		want:  "POST /metrics is documented but not served",
	}, {
		name: "a money-moving POST without its Idempotency-Key",
		alter: func(t *testing.T, src string) string {
			return replaceAfter(t, src, "  /api/v1/transfers:\n", "        - $ref: '#/components/parameters/IdempotencyKey'\n", "")
		},
		check: func(doc *document) []string { return idempotencyProblems(doc, served) },
		want:  "POST /api/v1/transfers: requires an Idempotency-Key; the document has none",
	}, {
		name: "an authenticated route documented as public",
		alter: func(t *testing.T, src string) string {
			return replaceAfter(t, src, "  /api/v1/auth/me:\n", "      security:\n        - bearerAuth: []\n", "      security: []\n")
		},
		check: func(doc *document) []string { return securityProblems(doc, served) },
		want:  "GET /api/v1/auth/me: needs a bearer token; the document says it needs none",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.check(parseDoc([]byte(tt.alter(t, string(api.OpenAPI)))))
			if !slices.Contains(got, tt.want) {
				t.Errorf("problems %q, want one to be %q", got, tt.want)
			}
		})
	}
}

// routeProblems compares the document's operations with the routes served:
// each route of the services and of the actuator must be documented, and each
// documented operation must be served by one of them.
func routeProblems(doc *document, served map[string]route, mux *http.ServeMux) []string {
	var problems []string
	for _, key := range sortedKeys(served) {
		if _, ok := doc.ops[key]; !ok {
			problems = append(problems, key+" is served but not documented")
		}
	}
	for _, key := range actuatorRoutes {
		if got := muxPattern(mux, key); got != key {
			problems = append(problems, fmt.Sprintf("%s is not an actuator route (the mux routes it to %q); fix actuatorRoutes", key, got))
		} else if _, ok := doc.ops[key]; !ok {
			problems = append(problems, key+" is served but not documented")
		}
	}
	for _, op := range doc.sortedOps() {
		if _, ok := served[op.key]; ok {
			continue
		}
		// Outside /api/ only the actuator serves: its mux must route the
		// operation to a pattern written exactly as documented.
		if strings.HasPrefix(op.path, "/api/") || muxPattern(mux, op.key) != op.key {
			problems = append(problems, op.key+" is documented but not served")
		}
	}
	return problems
}

// securityProblems checks that the operations behind the authentication
// middleware, and only those, are documented as needing a bearer token.
// Actuator endpoints need none.
func securityProblems(doc *document, served map[string]route) []string {
	var problems []string
	for _, op := range doc.sortedOps() {
		r, isService := served[op.key]
		if !isService && strings.HasPrefix(op.path, "/api/") {
			continue // not served: routeProblems says so
		}
		bearer, declared := op.bearer()
		switch {
		case !declared:
			problems = append(problems, op.key+": no security; want [] or bearerAuth")
		case r.authenticated && !bearer:
			problems = append(problems, op.key+": needs a bearer token; the document says it needs none")
		case !r.authenticated && bearer && isService:
			problems = append(problems, op.key+": needs no token; the document says it needs a bearer token")
		case !isService && bearer:
			problems = append(problems, op.key+": the actuator needs no token; the document says it needs a bearer token")
		}
	}
	return problems
}

// idempotencyProblems checks that the document gives an Idempotency-Key
// header to exactly the operations whose handler requires one, that those
// include every money-moving POST, and that their success responses carry
// Idempotent-Replayed.
func idempotencyProblems(doc *document, served map[string]route) []string {
	var problems []string
	required := map[string]bool{}
	for _, key := range sortedKeys(served) {
		var err error
		if required[key], err = requiresKey(key, served[key].handler); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, key := range moneyMoving {
		if !required[key] {
			problems = append(problems, key+": moves money but does not refuse a request without an Idempotency-Key")
		}
	}
	for _, op := range doc.sortedOps() {
		if _, ok := served[op.key]; !ok && strings.HasPrefix(op.path, "/api/") {
			continue // not served: routeProblems says so
		}
		p, documented := doc.param(op, "Idempotency-Key")
		switch {
		case required[op.key] && !documented:
			problems = append(problems, op.key+": requires an Idempotency-Key; the document has none")
			continue
		case !required[op.key] && documented:
			problems = append(problems, op.key+": the document has an Idempotency-Key the handler does not require")
			continue
		case !documented:
			continue
		}
		if p.in != "header" || !p.required {
			problems = append(problems, op.key+": Idempotency-Key must be a required header")
		}
		if p.minLength != "1" || p.maxLength != "255" {
			problems = append(problems, fmt.Sprintf("%s: Idempotency-Key is %s to %s characters, want 1 to 255", op.key, p.minLength, p.maxLength))
		}
		if !doc.successHeader(op, "Idempotent-Replayed") {
			problems = append(problems, op.key+": the success response does not document Idempotent-Replayed")
		}
	}
	return problems
}

// route is an endpoint a service registers.
type route struct {
	handler       http.Handler
	authenticated bool // wrapped by the authentication middleware
}

// authenticated marks a handler that a service's Routes wrapped in authn.
type authenticated struct{ http.Handler }

// recorder is an httpapi.Router that keeps the routes registered on it.
type recorder map[string]route

func (r recorder) Handle(pattern string, h http.Handler) {
	a, ok := h.(authenticated)
	if ok {
		h = a.Handler
	}
	r[pattern] = route{handler: h, authenticated: ok}
}

// serviceRoutes returns the routes of auth-service, account-service and
// transaction-service. Their dependencies are nil: no handler is called
// beyond the input checks that come before them.
func serviceRoutes() map[string]route {
	r := recorder{}
	log := slog.New(slog.DiscardHandler)
	authn := func(h http.Handler) http.Handler { return authenticated{h} }
	auth.Routes(r, log, nil, authn)
	account.Routes(r, log, nil, nil, nil, account.Issuer{}, authn)
	transaction.Routes(r, log, nil, nil, nil, authn)
	approval.Routes(r, log, nil, authn)
	recon.Routes(r, log, nil, authn)
	notification.Routes(r, log, nil, authn)
	payment.Routes(r, log, nil, authn)
	ops.SystemRoutes(r, log, nil, authn)
	return r
}

// actuatorMux returns a mux with the actuator's routes and nothing else.
func actuatorMux() *http.ServeMux {
	mux := http.NewServeMux()
	observe.NewActuator(prometheus.NewRegistry(), observe.NewHealth(0)).Routes(mux)
	return mux
}

// wildcard matches a {name} segment of a route's path.
var wildcard = regexp.MustCompile(`\{([^}]+)\}`)

// muxPattern returns the pattern mux routes a request for key ("GET
// /path/{x}") to, with each wildcard filled in; "" when none matches.
func muxPattern(mux *http.ServeMux, key string) string {
	method, path, _ := strings.Cut(key, " ")
	_, pattern := mux.Handler(httptest.NewRequest(method, wildcard.ReplaceAllString(path, "probe"), nil))
	return pattern
}

// requiresKey reports whether the handler of route key answers a request
// without an Idempotency-Key with 400 idempotency_key_required. The probe's
// body has an unknown field, so every other POST or PUT handler refuses it
// before it reaches its nil dependencies; GET handlers are not called.
func requiresKey(key string, h http.Handler) (required bool, err error) {
	method, path, _ := strings.Cut(key, " ")
	if method == http.MethodGet {
		return false, nil
	}
	defer func() {
		if p := recover(); p != nil {
			required, err = false, fmt.Errorf("%s: a request with an unknown field and no Idempotency-Key got past the input checks (panic: %v)", key, p)
		}
	}()
	w := httptest.NewRecorder()
	// As an admin: routes for staff only refuse anyone else before the input checks.
	req := httptest.NewRequest(method, wildcard.ReplaceAllString(path, "probe"), strings.NewReader(`{"probe":true}`))
	req = req.WithContext(auth.WithPrincipal(req.Context(), auth.Principal{UserID: "probe", Role: auth.RoleAdmin}))
	h.ServeHTTP(w, req)
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code == http.StatusBadRequest && body.Error.Code == "idempotency_key_required", nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// replaceAfter returns src with the first old after anchor replaced by new.
func replaceAfter(t *testing.T, src, anchor, old, new string) string {
	t.Helper()
	i := strings.Index(src, anchor)
	j := -1
	if i >= 0 {
		j = strings.Index(src[i:], old)
	}
	if j < 0 {
		t.Fatalf("no %q after %q in the document; fix the test", old, anchor)
	}
	return src[:i+j] + new + src[i+j+len(old):]
}

// withoutPath returns src less the path item of path.
func withoutPath(t *testing.T, src, path string) string {
	t.Helper()
	lines := strings.SplitAfter(src, "\n")
	start := slices.Index(lines, "  "+path+":\n")
	if start < 0 {
		t.Fatalf("no path item %s in the document", path)
	}
	end := start + 1
	for end < len(lines) && (strings.TrimSpace(lines[end]) == "" || indentOf(lines[end]) > 2) {
		end++
	}
	return strings.Join(slices.Delete(lines, start, end), "")
}

// The document is read with a reader of the little YAML it uses rather than
// a YAML library: mappings indented by two spaces a level, lists of
// mappings indented under their key ("- " then the first key), and scalars
// on the key's line or as block scalars indented below it.

// node is a mapping of the document: the lines below a key, whose own keys
// start at column indent.
type node struct {
	value  string // the scalar on the key's line, unquoted
	lines  []string
	indent int
}

// entry is one key of a mapping and its node.
type entry struct {
	key string
	node
}

// entries returns n's keys in order, each with the lines below it.
func (n node) entries() []entry {
	var es []entry
	for _, l := range n.lines {
		s := strings.TrimSpace(l)
		switch {
		case s == "" || strings.HasPrefix(s, "#") || indentOf(l) > n.indent:
			if len(es) > 0 {
				es[len(es)-1].lines = append(es[len(es)-1].lines, l)
			}
		case indentOf(l) == n.indent && !strings.HasPrefix(s, "- "):
			k, v, _ := strings.Cut(s, ":")
			es = append(es, entry{key: unquote(k), node: node{value: unquote(strings.TrimSpace(v)), indent: n.indent + 2}})
		}
	}
	return es
}

// get returns the node at path below n.
func (n node) get(path ...string) (node, bool) {
	for _, key := range path {
		es := n.entries()
		i := slices.IndexFunc(es, func(e entry) bool { return e.key == key })
		if i < 0 {
			return node{}, false
		}
		n = es[i].node
	}
	return n, true
}

// items returns the mappings of a list: each "- " at n's indentation starts
// one, whose keys are then at indent+2.
func (n node) items() []node {
	var items []node
	for _, l := range n.lines {
		if indentOf(l) == n.indent && strings.HasPrefix(l[n.indent:], "- ") {
			items = append(items, node{indent: n.indent + 2})
			l = strings.Repeat(" ", n.indent+2) + l[n.indent+2:]
		}
		if len(items) > 0 {
			items[len(items)-1].lines = append(items[len(items)-1].lines, l)
		}
	}
	return items
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// document is the parsed OpenAPI document.
type document struct {
	root node
	ops  map[string]operation // by "METHOD /path"
}

// operation is one method of one path.
type operation struct {
	key, path string
	item      node // the path item, for its path-level parameters
	node
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseDoc(src []byte) *document {
	doc := &document{root: node{lines: strings.Split(string(src), "\n")}, ops: map[string]operation{}}
	paths, _ := doc.root.get("paths")
	for _, p := range paths.entries() {
		for _, m := range p.entries() {
			if slices.Contains(methods, m.key) {
				key := strings.ToUpper(m.key) + " " + p.key
				doc.ops[key] = operation{key: key, path: p.key, item: p.node, node: m.node}
			}
		}
	}
	return doc
}

func (d *document) sortedOps() []operation {
	ops := make([]operation, 0, len(d.ops))
	for _, k := range sortedKeys(d.ops) {
		ops = append(ops, d.ops[k])
	}
	return ops
}

// resolve follows n's $ref, if it has one, within the document.
func (d *document) resolve(n node) node {
	ref, ok := n.get("$ref")
	if !ok {
		return n
	}
	target, ok := d.root.get(strings.Split(strings.TrimPrefix(ref.value, "#/"), "/")...)
	if !ok {
		return node{}
	}
	return target
}

// parameter is what the checks read of a parameter.
type parameter struct {
	in                   string
	required             bool
	minLength, maxLength string
}

// param returns the parameter called name of op, declared on the operation
// or on its path item.
func (d *document) param(op operation, name string) (parameter, bool) {
	for _, owner := range []node{op.node, op.item} {
		list, _ := owner.get("parameters")
		for _, item := range list.items() {
			p := d.resolve(item)
			if n, _ := p.get("name"); n.value != name {
				continue
			}
			in, _ := p.get("in")
			req, _ := p.get("required")
			minLen, _ := p.get("schema", "minLength")
			maxLen, _ := p.get("schema", "maxLength")
			return parameter{in: in.value, required: req.value == "true", minLength: minLen.value, maxLength: maxLen.value}, true
		}
	}
	return parameter{}, false
}

// successHeader reports whether op's 2xx response documents header.
func (d *document) successHeader(op operation, header string) bool {
	responses, _ := op.get("responses")
	for _, r := range responses.entries() {
		if strings.HasPrefix(r.key, "2") {
			if _, ok := d.resolve(r.node).get("headers", header); ok {
				return true
			}
		}
	}
	return false
}

// bearer reports whether op requires the bearer token, and whether it says
// either way.
func (op operation) bearer() (bearer, declared bool) {
	sec, ok := op.get("security")
	if !ok {
		return false, false
	}
	if sec.value == "[]" {
		return false, true
	}
	for _, item := range sec.items() {
		if _, ok := item.get("bearerAuth"); ok {
			return true, true
		}
	}
	return false, false
}
