// Package monitoring holds, besides Rules, no code: its folder holds what Prometheus,
// Alertmanager and Grafana are given (the PrometheusRule fintech-alerts, the
// alertmanager-config ConfigMap, the dashboard's ConfigMap), and its tests
// check them with promtool and amtool and against a running bank.
package monitoring
