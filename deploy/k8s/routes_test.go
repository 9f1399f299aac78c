package k8s

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/api"
	"github.com/fintech-banking/bank/deploy/deploytest"
)

// operation is one method of one path of the API document.
type operation struct {
	key    string // "GET /api/v1/accounts/{id}"
	method string
	probe  string // the path with every {wildcard} filled in
}

// publicOperations returns the operations of api/openapi.yaml under /api/:
// the public API, which fintech-ingress publishes. The Actuator endpoints
// are every service's own, for the kubelet and Prometheus inside the cluster.
func publicOperations(t *testing.T) []operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	wildcard := regexp.MustCompile(`\{[^}]+\}`)
	var ops []operation
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for m := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, m) {
				continue // parameters, summary
			}
			method := strings.ToUpper(m)
			ops = append(ops, operation{key: method + " " + path, method: method, probe: wildcard.ReplaceAllString(path, "probe")})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.key, b.key) })
	if len(ops) == 0 {
		t.Fatal("api/openapi.yaml has no operation under /api/")
	}
	return ops
}

// servedBy starts `bank serve <service>` for every Deployment and asks each
// for every operation: it serves one when it answers anything but its mux's
// 404 or 405 for a path it has no route for (401 for want of a token is
// an answer of the route). It returns Deployment → operation key → served.
func servedBy(t *testing.T, ops []operation) map[string]map[string]bool {
	t.Helper()
	bin := deploytest.Bank(t)
	client := &http.Client{Timeout: 10 * time.Second}
	served := map[string]map[string]bool{}
	for name, service := range services {
		dir := t.TempDir()
		srv := deploytest.Start(t, bin, []string{
			"PATH=" + os.Getenv("PATH"),
			"BANK_DATABASE_URL=sqlite://" + filepath.Join(dir, "bank.db"),
			"BANK_DATA_DIR=" + dir,
			"BANK_HTTP_ADDR=127.0.0.1:0",
		}, "serve", service)
		served[name] = map[string]bool{}
		for _, op := range ops {
			req, err := http.NewRequest(op.method, "http://"+srv.Addr+op.probe, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s on %s: %v", op.key, name, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s on %s: %v", op.key, name, err)
			}
			served[name][op.key] = !noRoute(resp.StatusCode, body)
		}
		srv.Stop(t)
	}
	return served
}

// noRoute reports whether an answer is httpapi.JSONMux's for a path no
// route takes (404) or a method no route of the path takes (405).
func noRoute(status int, body []byte) bool {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return (status == http.StatusNotFound && e.Error.Code == "not_found" && e.Error.Message == "no such path") ||
		(status == http.StatusMethodNotAllowed && e.Error.Code == "method_not_allowed")
}

// TestIngressRoutesEveryOperation: every operation of the API document is
// sent by fintech-ingress, as each overlay's controller reads its paths, to
// a service that serves it; and every path of the Ingress takes some
// operation. A route added to a service and to the document therefore
// fails here until the Ingress sends it to that service.
func TestIngressRoutesEveryOperation(t *testing.T) {
	t.Parallel()
	ops := publicOperations(t)
	served := servedBy(t, ops)
	for _, op := range ops {
		n := 0
		for name := range served {
			if served[name][op.key] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is served by %d services, want 1", op.key, n)
		}
	}
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		ing, ok := r.ingresses["fintech-ingress"]
		if !ok {
			t.Fatal("no Ingress fintech-ingress")
		}
		for _, p := range routingProblems(ing, ops, served) {
			t.Error(p)
		}
	})
	t.Run("pages sent elsewhere are found", func(t *testing.T) {
		t.Parallel()
		ing := render(t, "aws").ingresses["fintech-ingress"].DeepCopy()
		paths := &ing.Spec.Rules[0].HTTP.Paths
		*paths = slices.DeleteFunc(*paths, func(p networkingv1.HTTPIngressPath) bool { return p.Backend.Service.Name == web })
		if got, want := routingProblems(ing, ops, served), "page /login: no path of fintech-ingress takes it"; !slices.Contains(got, want) {
			t.Errorf("without web's path: problems %q, want one to be %q", got, want)
		}
		// Listed before the API's wildcard paths, web's would take them.
		ing = render(t, "aws").ingresses["fintech-ingress"].DeepCopy()
		paths = &ing.Spec.Rules[0].HTTP.Paths
		last := (*paths)[len(*paths)-1]
		*paths = append([]networkingv1.HTTPIngressPath{last}, (*paths)[:len(*paths)-1]...)
		got := routingProblems(ing, ops, served)
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "sends it to web, which does not serve it") }) {
			t.Errorf("with web's path first: problems %q, want an operation sent to web", got)
		}
	})
	t.Run("a path left out is found", func(t *testing.T) {
		t.Parallel()
		ing := render(t, "aws").ingresses["fintech-ingress"].DeepCopy()
		paths := &ing.Spec.Rules[0].HTTP.Paths
		*paths = slices.DeleteFunc(*paths, func(p networkingv1.HTTPIngressPath) bool { return p.Path == "/api/v1/notifications" })
		got := routingProblems(ing, ops, served)
		// Without its own path, the API's operation falls to the pages.
		want := "PUT /api/v1/notifications/preferences: path /* sends it to web, which does not serve it"
		if !slices.Contains(got, want) {
			t.Errorf("problems %q, want one to be %q", got, want)
		}
	})
}

// pagePaths are paths of the pages (internal/web): every path that is not
// the API's goes to web, which answers its own 404 for the unknown ones.
var pagePaths = []string{"/", "/login", "/accounts/probe", "/payments/probe/cancel", "/console", "/console/system",
	"/static/style.css", "/no-such-page", "/apis"}

// routingProblems routes every operation through ing and says which go
// nowhere or to a service that does not serve them, which pages do not go
// to web, and which paths of ing take neither.
func routingProblems(ing *networkingv1.Ingress, ops []operation, served map[string]map[string]bool) []string {
	route, err := ingressRouter(ing)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	used := map[string]bool{}
	for _, op := range ops {
		p, ok := route(op.probe)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: no path of %s takes %s", op.key, ing.Name, op.probe))
		case !served[p.Backend.Service.Name][op.key]:
			problems = append(problems, fmt.Sprintf("%s: path %s sends it to %s, which does not serve it", op.key, p.Path, p.Backend.Service.Name))
		}
		if ok {
			used[p.Path] = true
		}
	}
	for _, page := range pagePaths {
		p, ok := route(page)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("page %s: no path of %s takes it", page, ing.Name))
		case p.Backend.Service.Name != web:
			problems = append(problems, fmt.Sprintf("page %s: path %s sends it to %s, not %s", page, p.Path, p.Backend.Service.Name, web))
		}
		if ok {
			used[p.Path] = true
		}
	}
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			if !used[p.Path] {
				problems = append(problems, fmt.Sprintf("path %s (%s) takes no operation of the API document", p.Path, ptrValue(p.PathType)))
			}
		}
	}
	return problems
}

// router returns the Ingress path a request path is sent by, if any.
type router func(path string) (networkingv1.HTTPIngressPath, bool)

// match is a path of the Ingress as its controller tests it.
type match struct {
	p     networkingv1.HTTPIngressPath
	match func(path string) bool
}

// ingressRouter models the controller of ing's class: only the host's
// paths are read (one host), as the controller orders and matches them.
func ingressRouter(ing *networkingv1.Ingress) (router, error) {
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil {
		return nil, fmt.Errorf("%s has %d rules: the model knows one host", ing.Name, len(ing.Spec.Rules))
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	var ms []match
	var err error
	switch class := ptrValue(ing.Spec.IngressClassName); class {
	case "nginx":
		ms, err = nginxMatches(ing.Annotations, paths)
	case "alb":
		ms, err = albMatches(paths)
	default:
		err = fmt.Errorf("%s: ingress class %q: no model of its controller", ing.Name, class)
	}
	if err != nil {
		return nil, err
	}
	return func(path string) (networkingv1.HTTPIngressPath, bool) {
		for _, m := range ms {
			if m.match(path) {
				return m.p, true
			}
		}
		return networkingv1.HTTPIngressPath{}, false
	}, nil
}

// nginxMatches: with use-regex, ingress-nginx writes every path of the host,
// whatever its type, as `location ~* "^PATH"`: a case-insensitive regular
// expression anchored at its start only, and sorts them longest first (ties
// in reverse string order); nginx takes the first that matches.
func nginxMatches(annotations map[string]string, paths []networkingv1.HTTPIngressPath) ([]match, error) {
	if annotations["nginx.ingress.kubernetes.io/use-regex"] != "true" {
		return nil, fmt.Errorf("ingress-nginx without use-regex: no model of its prefix locations")
	}
	ms := make([]match, 0, len(paths))
	for _, p := range paths {
		re, err := regexp.Compile("(?i)^" + p.Path)
		if err != nil {
			return nil, fmt.Errorf("path %s: %v", p.Path, err)
		}
		ms = append(ms, match{p, re.MatchString})
	}
	slices.SortStableFunc(ms, func(a, b match) int {
		return cmp.Or(cmp.Compare(len(b.p.Path), len(a.p.Path)), strings.Compare(b.p.Path, a.p.Path))
	})
	return ms, nil
}

// albMatches: the AWS Load Balancer Controller (2.4.3 on) makes a listener
// rule of each path, Exact first, then Prefix longest first, then
// ImplementationSpecific as listed; the ALB takes the first whose path
// patterns match, case-sensitively. Exact P is the pattern P; Prefix P is
// P and P/*; ImplementationSpecific P is P, where * matches any characters
// (slashes too) and ? one. Exact and Prefix paths may hold no wildcard.
func albMatches(paths []networkingv1.HTTPIngressPath) ([]match, error) {
	rank := map[networkingv1.PathType]int{networkingv1.PathTypeExact: 0, networkingv1.PathTypePrefix: 1, networkingv1.PathTypeImplementationSpecific: 2}
	ms := make([]match, 0, len(paths))
	for _, p := range paths {
		t, path := ptrValue(p.PathType), p.Path
		if t != networkingv1.PathTypeImplementationSpecific && strings.ContainsAny(path, "*?") {
			return nil, fmt.Errorf("path %s: a %s path may hold no wildcard", path, t)
		}
		var m func(string) bool
		switch t {
		case networkingv1.PathTypeExact:
			m = func(s string) bool { return s == path }
		case networkingv1.PathTypePrefix:
			path := strings.TrimSuffix(path, "/")
			m = func(s string) bool { return s == path || strings.HasPrefix(s, path+"/") }
		case networkingv1.PathTypeImplementationSpecific:
			glob := strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(regexp.QuoteMeta(path))
			m = regexp.MustCompile("^" + glob + "$").MatchString
		default:
			return nil, fmt.Errorf("path %s: pathType %q", path, t)
		}
		ms = append(ms, match{p, m})
	}
	slices.SortStableFunc(ms, func(a, b match) int {
		ta, tb := ptrValue(a.p.PathType), ptrValue(b.p.PathType)
		if c := cmp.Compare(rank[ta], rank[tb]); c != 0 || ta != networkingv1.PathTypePrefix {
			return c
		}
		return cmp.Compare(len(b.p.Path), len(a.p.Path))
	})
	return ms, nil
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// The models send the paths the controllers are documented to send, the
// shadowing the aws overlay once had among them.
func TestIngressModels(t *testing.T) {
	t.Parallel()
	path := func(p string, t networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: &t,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc}}}
	}
	const (
		prefix = networkingv1.PathTypePrefix
		exact  = networkingv1.PathTypeExact
		impl   = networkingv1.PathTypeImplementationSpecific
	)
	tests := []struct {
		name, class string
		paths       []networkingv1.HTTPIngressPath
		want        map[string]string // request path → service ("" for none)
	}{{
		name: "alb: a Prefix path comes before an ImplementationSpecific one listed first", class: "alb",
		paths: []networkingv1.HTTPIngressPath{path("/a/*/t", impl, "tx"), path("/a", prefix, "acct")},
		want:  map[string]string{"/a/1/t": "acct", "/a": "acct", "/ab": ""},
	}, {
		name: "alb: Exact first, then Prefix longest first, then listed order", class: "alb",
		paths: []networkingv1.HTTPIngressPath{path("/a/*", impl, "x"), path("/a", exact, "list"),
			path("/a/b", prefix, "b"), path("/a/*/t", impl, "tx")},
		want: map[string]string{"/a": "list", "/a/b/t": "b", "/a/1/t": "x", "/a/": "x", "/A": ""},
	}, {
		name: "nginx: regexes anchored at the start, longest first, any case", class: "nginx",
		paths: []networkingv1.HTTPIngressPath{path("/a", exact, "acct"), path("/a/[^/]+/t", impl, "tx")},
		want:  map[string]string{"/a/1/t": "tx", "/a/1/2/t": "acct", "/A/1/T": "tx", "/ab": "acct", "/b": ""},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{IngressClassName: &tt.class,
				Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{Paths: tt.paths}}}}}}
			ing.Annotations = map[string]string{"nginx.ingress.kubernetes.io/use-regex": "true"}
			route, err := ingressRouter(ing)
			if err != nil {
				t.Fatal(err)
			}
			for req, want := range tt.want {
				p, _ := route(req)
				got := ""
				if p.Backend.Service != nil {
					got = p.Backend.Service.Name
				}
				if got != want {
					t.Errorf("%s goes to %q, want %q", req, got, want)
				}
			}
		})
	}
}

// web calls the API where browsers do: through fintech-ingress, naming its
// host, so every operation reaches the service the Ingress sends it to.
func TestWebCallsTheIngress(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		d, ok := r.deployments[web]
		if !ok {
			t.Fatal("no Deployment web")
		}
		env := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			v, err := r.value(e)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			env[e.Name] = v
		}
		u, err := url.Parse(env["BANK_API_URL"])
		if err != nil || u.Host == "" || u.Path != "" {
			t.Fatalf("BANK_API_URL=%q: want a URL of a host alone", env["BANK_API_URL"])
		}
		host := cmp.Or(env["BANK_API_HOST"], u.Hostname())
		ing := r.ingresses["fintech-ingress"]
		if want := ing.Spec.Rules[0].Host; host != want {
			t.Errorf("web asks the API for host %q, the Ingress serves %q", host, want)
		}
		switch class := ptrValue(ing.Spec.IngressClassName); class {
		case "nginx": // the controller's Service, inside the cluster
			if u.Scheme != "http" || u.Hostname() != "ingress-nginx-controller.ingress-nginx.svc.cluster.local" {
				t.Errorf("BANK_API_URL=%q: want ingress-nginx's controller Service", env["BANK_API_URL"])
			}
			ctrl := pod("ingress-nginx", labels.Set{"app.kubernetes.io/component": "controller"})
			if !r.egressAllowed(d.Spec.Template.Labels, ctrl, corev1.ProtocolTCP, 80) {
				t.Error("web may not reach the ingress controller on port 80")
			}
		case "alb": // the load balancer's public name, over https
			if u.Scheme != "https" || env["BANK_API_HOST"] != "" {
				t.Errorf("BANK_API_URL=%q, BANK_API_HOST=%q: want the ALB's https address", env["BANK_API_URL"], env["BANK_API_HOST"])
			}
		default:
			t.Errorf("ingress class %q: no rule for how web reaches it", class)
		}
		if env["BANK_TRUSTED_PROXIES"] == "" {
			t.Error("BANK_TRUSTED_PROXIES is empty: web would never see https and refuse every sign-in")
		}
	})
}
