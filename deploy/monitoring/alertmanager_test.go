package monitoring

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// alertmanagerYAML returns alertmanager.yml from the alertmanager-config
// ConfigMap, written to a temporary folder.
func alertmanagerYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("alertmanager-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatalf("alertmanager-config.yaml: %v", err)
	}
	if cm.Name != "alertmanager-config" || cm.Namespace != "monitoring" {
		t.Errorf("ConfigMap %s/%s, want monitoring/alertmanager-config (runbook 8.4 edits it by that name)", cm.Namespace, cm.Name)
	}
	conf, ok := cm.Data["alertmanager.yml"]
	if !ok {
		t.Fatal("alertmanager-config has no alertmanager.yml")
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	conf := alertmanagerYAML(t)
	out := run(t, "", amtool, "check-config", conf)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config:\n%s", out)
	}
	// The key must not be in the ConfigMap: it comes from a mounted Secret.
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "service_key:") || strings.Contains(string(b), "api_url:") {
		t.Error("alertmanager.yml holds a key inline; use service_key_file and api_url_file")
	}

	tests := []struct {
		labels   []string
		receiver string
	}{
		{[]string{"alertname=HighErrorRate", "severity=critical"}, "pagerduty"},
		{[]string{"alertname=LedgerInvariantViolated", "severity=critical"}, "pagerduty"},
		{[]string{"alertname=DBConnectionsCritical", "severity=critical", "service=account-service"}, "pagerduty"},
		{[]string{"alertname=HighLatency", "severity=warning"}, "slack"},
		{[]string{"alertname=DeadLetterQueueNotEmpty", "severity=warning", "queue=notifications"}, "slack"},
		{[]string{"alertname=SomethingNew"}, "slack"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.labels, ","), func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + conf, "--verify.receivers=" + tt.receiver}, tt.labels...)
			out := run(t, "", amtool, args...)
			if got := lastLine(out); got != tt.receiver {
				t.Errorf("routed to %q, want %q:\n%s", got, tt.receiver, out)
			}
		})
	}
}

// lastLine is amtool's answer: its warnings come first.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
