package monitoring

import _ "embed"

// Rules is the PrometheusRule fintech-alerts: the console reads the
// runbook's warning and critical thresholds from it.
//
//go:embed prometheus-rules.yaml
var Rules []byte
