package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/deploy/deploytest"
	"github.com/fintech-banking/bank/internal/observe"
)

// dashboard is the part of Grafana's dashboard model the checks read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// panelQuery is one query of one panel.
type panelQuery struct{ panel, expr string }

// promql is the query as Grafana sends it with every service chosen.
func (q panelQuery) promql() string {
	return strings.NewReplacer("$__rate_interval", "1m", "$service", ".*").Replace(q.expr)
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	var qs []panelQuery
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			qs = append(qs, panelQuery{p.Title, tg.Expr})
		}
	}
	return qs
}

// The panels the issue asks for, by title.
var wantPanels = []string{
	"Latency p50 per service", "Latency p99 per service", "Error rate per service (5xx share)",
	"Throughput per service", "Pool in use against max", "Queue depth", "Oldest message age",
	"Dead-letter queue", "Money movements by operation and outcome",
}

func TestDashboardIsValid(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
		t.Errorf("uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	titles := map[string]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		titles[p.Title] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap", other, p.Title)
					goto next
				}
				taken[cell{x, y}] = p.Title
			}
		}
	next:
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the dashboard's Prometheus variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, v := range regexp.MustCompile(`\$(\w+)`).FindAllStringSubmatch(tg.Expr, -1) {
				if !vars[v[1]] && v[1] != "__rate_interval" {
					t.Errorf("panel %q uses the undefined variable $%s", p.Title, v[1])
				}
			}
		}
	}
	for _, w := range wantPanels {
		if !titles[w] {
			t.Errorf("no panel %q", w)
		}
	}
}

// promtool parses every panel query as Prometheus would.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool := tool(t, "promtool", "prometheus")
	var rules []map[string]string
	for i, q := range dashboardQueries(t) {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query%d", i), "expr": q.promql()})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.rules.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "check", "rules", "dashboard.rules.yaml")
}

// The dashboard's ConfigMap, as kustomize renders deploy/monitoring, carries
// the JSON and the sidecar's label.
func TestDashboardConfigMap(t *testing.T) {
	t.Parallel()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range m.Resources() {
		kinds = append(kinds, r.GetKind()+"/"+r.GetNamespace()+"/"+r.GetName())
		if r.GetKind() == "Probe" {
			checkProbe(t, r.MustYaml())
			continue
		}
		if r.GetName() != "grafana-dashboard-fintech-banking" {
			continue
		}
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(b, &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("labels %v: the Grafana sidecar looks for grafana_dashboard=1", cm.Labels)
		}
		file, err := os.ReadFile("grafana-dashboard.json")
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["fintech-banking.json"] != string(file) {
			t.Error("the ConfigMap does not hold grafana-dashboard.json as it is")
		}
	}
	slices.Sort(kinds)
	want := []string{
		"ConfigMap/monitoring/alertmanager-config",
		"ConfigMap/monitoring/grafana-dashboard-fintech-banking",
		"Probe/monitoring/fintech-banking-certificates",
		"PrometheusRule/monitoring/fintech-alerts",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("kubectl apply -k deploy/monitoring would make %v, want %v", kinds, want)
	}
}

// checkProbe decodes the certificate Probe strictly and checks that it reads
// a TLS certificate, which is what the CertificateExpiry rules need.
func checkProbe(t *testing.T, doc string) {
	t.Helper()
	var p struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Metadata   metav1ObjectMeta `json:"metadata"`
		Spec       struct {
			JobName  string `json:"jobName"`
			Interval string `json:"interval"`
			Module   string `json:"module"`
			Prober   struct {
				URL string `json:"url"`
			} `json:"prober"`
			Targets struct {
				StaticConfig struct {
					Static []string `json:"static"`
				} `json:"staticConfig"`
			} `json:"targets"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if p.Spec.Module == "" || p.Spec.Prober.URL == "" || len(p.Spec.Targets.StaticConfig.Static) == 0 {
		t.Errorf("Probe %s: module %q, prober %q, targets %v", p.Metadata.Name, p.Spec.Module, p.Spec.Prober.URL, p.Spec.Targets.StaticConfig.Static)
	}
	for _, target := range p.Spec.Targets.StaticConfig.Static {
		if !strings.HasPrefix(target, "https://") {
			t.Errorf("Probe target %s has no certificate to read", target)
		}
	}
}

// metav1ObjectMeta is the metadata the Probe carries.
type metav1ObjectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

var (
	promqlStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlBraces  = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGroups  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promqlWords   = []string{"by", "without", "on", "ignoring", "bool", "and", "or", "unless", "offset"}
)

// metricNames returns the metric names a PromQL expression reads.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, "")
	e = promqlBraces.ReplaceAllString(e, " ")
	e = promqlGroups.ReplaceAllString(e, " ")
	var names []string
	for _, m := range promqlIdent.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") {
			continue // a function or an aggregation
		}
		if m = strings.TrimSpace(m); !slices.Contains(promqlWords, m) {
			names = append(names, m)
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (service) (rate(http_server_requests_seconds_count{service=~"$service", outcome="SERVER_ERROR"}[5m])) / sum by (service) (rate(http_server_requests_seconds_count[5m]))`,
			[]string{"http_server_requests_seconds_count", "http_server_requests_seconds_count"}},
		{`histogram_quantile(0.99, sum(rate(http_server_requests_seconds_bucket[5m])) by (le)) > 1`, []string{"http_server_requests_seconds_bucket"}},
		{`time() - max(ledger_invariant_last_check_timestamp_seconds)`, []string{"ledger_invariant_last_check_timestamp_seconds"}},
		{`max by (pod, pool) (hikaricp_connections_active / on (pod) hikaricp_connections_max)`, []string{"hikaricp_connections_active", "hikaricp_connections_max"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// queueNames are the series of observe.QueueCollector, which the queue's
// implementations feed.
func queueNames(t *testing.T) []string {
	t.Helper()
	reg := promclient.NewRegistry()
	reg.MustRegister(observe.NewQueueCollector(func(context.Context) ([]observe.QueueStat, error) {
		return []observe.QueueStat{{Queue: "q"}}, nil
	}, time.Second))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

func usesQueue(expr string) bool { return strings.Contains(expr, "bank_queue_") }

// Every metric a panel or a rule of ours reads is one a running service
// exports, with three exceptions named here: the queue's series come from
// observe.QueueCollector (checked against it), the containers' limits from
// kube-state-metrics and the certificates' expiry from the blackbox exporter.
func TestDashboardAndRuleMetricsExist(t *testing.T) {
	t.Parallel()
	bin := buildBank(t)
	dir := t.TempDir()
	srv := deploytest.Start(t, bin, []string{
		"PATH=" + os.Getenv("PATH"),
		"BANK_DATABASE_URL=sqlite://" + filepath.Join(dir, "bank.db"),
		"BANK_DATA_DIR=" + dir,
		"BANK_HTTP_ADDR=127.0.0.1:0",
	}, "serve", "all")
	// A transfer the ledger refuses still goes through a batch.
	c := &client{t: t, base: "http://" + srv.Addr}
	c.do("POST", "/api/v1/auth/register", "", map[string]any{"email": "bo@example.com", "password": "a long password", "name": "Bo"}, 201, nil)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "bo@example.com", "password": "a long password"}, 200, &login)
	var a1, a2 struct{ ID string }
	c.do("POST", "/api/v1/accounts", login.AccessToken, map[string]any{"currency": "EUR", "type": "checking"}, 201, &a1)
	c.do("POST", "/api/v1/accounts", login.AccessToken, map[string]any{"currency": "EUR", "type": "checking"}, 201, &a2)
	c.doKey("POST", "/api/v1/transfers", login.AccessToken, "k1",
		map[string]any{"from_account_id": a1.ID, "to_account_id": a2.ID, "amount": 5, "currency": "EUR"}, 422)

	resp, err := http.Get("http://" + srv.Addr + "/actuator/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	exported := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exported[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}
	queue := queueNames(t)
	external := func(name string) bool {
		return strings.HasPrefix(name, "kube_") || strings.HasPrefix(name, "probe_")
	}
	check := func(where, expr string) {
		for _, name := range metricNames(expr) {
			switch {
			case exported[name]:
			case usesQueue(name):
				if !slices.Contains(queue, name) {
					t.Errorf("%s reads %s, which observe.QueueCollector does not export", where, name)
				}
			case external(name) && strings.HasPrefix(where, "rule"):
			default:
				t.Errorf("%s reads %s, which bank serve all does not export", where, name)
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		check("panel "+q.panel, q.expr)
	}
	for name, r := range alerts(readRules(t)) {
		check("rule "+name, r.Expr)
	}
}
