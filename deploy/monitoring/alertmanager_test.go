package monitoring

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fintech-banking/bank/internal/poll"

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

// TestMaintenanceInhibitsErrorRate runs Alertmanager with alertmanager.yml
// and sends it the runbook's HighErrorRate beside MaintenanceMode: the
// error-rate alert is held (inhibited) during a maintenance and active
// without one.
func TestMaintenanceInhibitsErrorRate(t *testing.T) {
	t.Parallel()
	bin := tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	conf := alertmanagerYAML(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+t.TempDir(),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager:\n%s", log.String())
		}
	})
	base := "http://" + addr + "/api/v2/alerts"
	poll.Until(t, time.Minute, "alertmanager to answer", func() bool {
		resp, err := http.Get(base)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	send := func(labels ...map[string]string) {
		t.Helper()
		var alerts []map[string]any
		for _, l := range labels {
			alerts = append(alerts, map[string]any{"labels": l})
		}
		body, _ := json.Marshal(alerts)
		resp, err := http.Post(base, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post alerts: HTTP %d", resp.StatusCode)
		}
	}
	state := func(name string) (string, []string) {
		t.Helper()
		resp, err := http.Get(base + "?filter=" + url.QueryEscape(`alertname="`+name+`"`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got []struct {
			Status struct {
				State       string   `json:"state"`
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 1 {
			t.Fatalf("alerts named %s: %+v, %v", name, got, err)
		}
		return got[0].Status.State, got[0].Status.InhibitedBy
	}

	send(map[string]string{"alertname": "HighErrorRate", "severity": "critical"},
		map[string]string{"alertname": "ErrorRateCritical", "severity": "critical", "service": "auth-service"})
	if s, _ := state("HighErrorRate"); s != "active" {
		t.Errorf("HighErrorRate with no maintenance: %s, want active", s)
	}
	send(map[string]string{"alertname": "MaintenanceMode", "severity": "info"})
	// The inhibitor learns of a new alert from a subscription of its own: it
	// mutes the others a moment after the post has answered.
	for _, name := range []string{"HighErrorRate", "ErrorRateCritical"} {
		var (
			s  string
			by []string
		)
		if !poll.Wait(5*time.Second, func() bool { s, by = state(name); return s == "suppressed" && len(by) > 0 }) {
			t.Errorf("%s during a maintenance: %s, inhibited by %v; want suppressed by MaintenanceMode", name, s, by)
		}
	}
}
