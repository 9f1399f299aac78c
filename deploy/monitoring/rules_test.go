package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// prometheusRule is the part of the operator's PrometheusRule this folder uses;
// strict decoding refuses any field it does not know.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec ruleFile `json:"spec"`
}

// ruleFile is a Prometheus rule file, as promtool reads it.
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func readRules(t *testing.T) prometheusRule {
	t.Helper()
	b, err := os.ReadFile("prometheus-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("prometheus-rules.yaml: %v", err)
	}
	return pr
}

func alerts(pr prometheusRule) map[string]rule {
	m := map[string]rule{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			m[r.Alert] = r
		}
	}
	return m
}

// The runbook's section 8.3, exactly: an operator comparing the two must find
// them the same.
func TestRunbookRules(t *testing.T) {
	pr := readRules(t)
	if got, want := [4]string{pr.APIVersion, pr.Kind, pr.Metadata.Name, pr.Metadata.Namespace},
		[4]string{"monitoring.coreos.com/v1", "PrometheusRule", "fintech-alerts", "monitoring"}; got != want {
		t.Errorf("apiVersion, kind, name, namespace = %q, want %q", got, want)
	}
	if len(pr.Spec.Groups) == 0 || pr.Spec.Groups[0].Name != "fintech" {
		t.Fatalf("the first group is not the runbook's group fintech")
	}
	want := []rule{{
		Alert:       "HighErrorRate",
		Expr:        `sum(rate(http_server_requests_seconds_count{status=~"5.."}[5m])) / sum(rate(http_server_requests_seconds_count[5m])) > 0.05`,
		For:         "5m",
		Labels:      map[string]string{"severity": "critical"},
		Annotations: map[string]string{"summary": "High error rate detected", "description": "Error rate is {{ $value | humanizePercentage }}"},
	}, {
		Alert:       "HighLatency",
		Expr:        `histogram_quantile(0.99, sum(rate(http_server_requests_seconds_bucket[5m])) by (le)) > 1`,
		For:         "5m",
		Labels:      map[string]string{"severity": "warning"},
		Annotations: map[string]string{"summary": "High latency detected", "description": "p99 latency is {{ $value }}s"},
	}}
	if diff := cmp.Diff(pr.Spec.Groups[0].Rules, want); diff != "" {
		t.Errorf("group fintech differs from the runbook (-got +want):\n%s", diff)
	}
}

// Every row of the runbook's thresholds table (8.1) has a rule at each level,
// with the table's threshold in its expression, and the queue, ledger and
// certificate rules exist.
func TestThresholdRules(t *testing.T) {
	all := alerts(readRules(t))
	tests := []struct {
		alert, severity, threshold string
	}{
		{"CPUUsageWarning", "warning", "> 0.70"},
		{"CPUUsageCritical", "critical", "> 0.90"},
		{"MemoryUsageWarning", "warning", "> 0.75"},
		{"MemoryUsageCritical", "critical", "> 0.90"},
		{"APILatencyP99Warning", "warning", "> 0.5"},
		{"APILatencyP99Critical", "critical", "> 1"},
		{"ErrorRateWarning", "warning", "> 0.01"},
		{"ErrorRateCritical", "critical", "> 0.05"},
		{"QueueDepthWarning", "warning", "> 1000"},
		{"QueueDepthCritical", "critical", "> 10000"},
		{"DBConnectionsWarning", "warning", "> 0.80"},
		{"DBConnectionsCritical", "critical", "> 0.95"},
		{"DeadLetterQueueNotEmpty", "warning", "> 0"},
		{"QueueOldestMessageAge", "warning", "> 600"},
		{"LedgerInvariantViolated", "critical", "> 0"},
		{"LedgerInvariantCheckStale", "warning", "> 900"},
		{"CertificateExpiryWarning", "warning", "< 30 * 86400"},
		{"CertificateExpiryCritical", "critical", "< 7 * 86400"},
		{"MaintenanceMode", "info", "> 0"},
		{"SearchIndexLagging", "warning", "> 60"},
	}
	for _, tt := range tests {
		r, ok := all[tt.alert]
		if !ok {
			t.Errorf("no rule %s", tt.alert)
			continue
		}
		if got := r.Labels["severity"]; got != tt.severity {
			t.Errorf("%s: severity %q, want %q", tt.alert, got, tt.severity)
		}
		if expr := strings.TrimSpace(r.Expr); !strings.HasSuffix(expr, tt.threshold) {
			t.Errorf("%s: expression %q does not end with %q", tt.alert, expr, tt.threshold)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary or description missing", tt.alert)
		}
	}
	if len(all) != len(tests)+2 {
		t.Errorf("%d rules, want the runbook's 2 and %d listed here: list every new rule", len(all), len(tests))
	}
}

// promtoolTests is the part of rules_test.yaml that says what each case expects.
type promtoolTests struct {
	Tests []struct {
		Name  string `json:"name"`
		Cases []struct {
			Alert     string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// Every rule has a promtool case where it fires and one where it does not.
func TestEveryRuleIsUnitTested(t *testing.T) {
	b, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pt promtoolTests
	if err := yaml.Unmarshal(b, &pt); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range pt.Tests {
		for _, c := range tc.Cases {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alert] = true
			} else {
				quiet[c.Alert] = true
			}
		}
	}
	var names []string
	for name := range alerts(readRules(t)) {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !fires[name] {
			t.Errorf("%s: no promtool case where it fires", name)
		}
		if !quiet[name] {
			t.Errorf("%s: no promtool case where it stays quiet", name)
		}
	}
}

// promtool checks the rules and runs the unit tests in rules_test.yaml on the
// PrometheusRule's own groups, so the tests and what is deployed cannot drift.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool := tool(t, "promtool", "prometheus")
	pr := readRules(t)
	dir := t.TempDir()
	spec, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"fintech-alerts.rules.yaml": spec, "rules_test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, dir, promtool, "check", "rules", "fintech-alerts.rules.yaml")
	if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", len(alerts(pr)))) {
		t.Errorf("promtool check rules:\n%s", out)
	}
	out = run(t, dir, promtool, "test", "rules", "rules_test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}
