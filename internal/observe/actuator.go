package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/fintech-banking/bank/internal/bank"
	"github.com/fintech-banking/bank/internal/httpapi"
)

// actuatorJSON is Spring Boot Actuator's own media type, answered to clients
// that ask for it; everyone else gets application/json.
const actuatorJSON = "application/vnd.spring-boot.actuator.v3+json"

// Actuator serves the Spring Boot Actuator endpoints the runbook and the
// monitoring stack call: health, liveness, readiness, metrics by name and the
// Prometheus exposition.
type Actuator struct {
	reg    *prometheus.Registry
	health *Health
	prom   http.Handler
}

// NewActuator returns an Actuator serving the series of reg and the health of h.
func NewActuator(reg *prometheus.Registry, h *Health) *Actuator {
	return &Actuator{
		reg:    reg,
		health: h,
		prom: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			// One failing collector must not blank the whole scrape and
			// with it every alert; its failure is counted in
			// promhttp_metric_handler_errors_total instead.
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      reg,
		}),
	}
}

// Routes registers the actuator endpoints on mux.
func (a *Actuator) Routes(mux httpapi.Router) {
	mux.Handle("GET /actuator/health", handleHealth(a.health.Check))
	mux.Handle("GET /actuator/health/liveness", handleHealth(func(context.Context) Report { return a.health.Liveness() }))
	mux.Handle("GET /actuator/health/readiness", handleHealth(a.health.Readiness))
	mux.Handle("GET /actuator/metrics", a.handleMetricNames())
	mux.Handle("GET /actuator/metrics/{name}", a.handleMetric())
	mux.Handle("GET /actuator/prometheus", a.prom)
	mux.Handle("GET /metrics", a.prom)
}

// handleHealth answers a health report: 200 when UP, 503 otherwise, which is
// what Kubernetes probes and load balancers act on. The endpoints are
// anonymous, so the answer carries statuses only (Report.Public).
func handleHealth(report func(context.Context) Report) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := report(r.Context()).Public()
		status := http.StatusOK
		if rep.Status != StatusUp {
			status = http.StatusServiceUnavailable
		}
		writeActuator(w, r, status, rep)
	})
}

// MetricNames is the answer of /actuator/metrics.
type MetricNames struct {
	Names []string `json:"names"`
}

func (a *Actuator) handleMetricNames() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A collector that fails still lets the others be listed.
		mfs, _ := a.reg.Gather()
		writeActuator(w, r, http.StatusOK, MetricNames{Names: metricNames(mfs)})
	})
}

func (a *Actuator) handleMetric() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		tags, err := parseTags(r.URL.Query()["tag"])
		if err != nil {
			writeError(w, err)
			return
		}
		mfs, _ := a.reg.Gather()
		m, ok := describeMetric(mfs, name, tags)
		if !ok {
			msg := fmt.Sprintf("no metric named %q", name)
			if len(tags) > 0 {
				msg += " with tags " + strings.Join(r.URL.Query()["tag"], ", ")
			}
			writeError(w, bank.Errorf(bank.KindNotFound, "not_found", "%s", msg))
			return
		}
		writeActuator(w, r, http.StatusOK, m)
	})
}

// MetricResponse is the answer of /actuator/metrics/{name}, in Spring Boot's
// format.
type MetricResponse struct {
	Name          string
	Description   string // "" is written as null
	BaseUnit      string // "" is written as null
	Measurements  []Sample
	AvailableTags []AvailableTag
}

// MarshalJSON writes m as Spring Boot does: absent description and base unit
// are null, and empty lists are [] rather than null.
func (m MetricResponse) MarshalJSON() ([]byte, error) {
	nullable := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	type wire struct {
		Name          string         `json:"name"`
		Description   *string        `json:"description"`
		BaseUnit      *string        `json:"baseUnit"`
		Measurements  []Sample       `json:"measurements"`
		AvailableTags []AvailableTag `json:"availableTags"`
	}
	return json.Marshal(wire{
		Name:          m.Name,
		Description:   nullable(m.Description),
		BaseUnit:      nullable(m.BaseUnit),
		Measurements:  nonNil(m.Measurements),
		AvailableTags: nonNil(m.AvailableTags),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *MetricResponse) UnmarshalJSON(b []byte) error {
	var w struct {
		Name          string         `json:"name"`
		Description   *string        `json:"description"`
		BaseUnit      *string        `json:"baseUnit"`
		Measurements  []Sample       `json:"measurements"`
		AvailableTags []AvailableTag `json:"availableTags"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = MetricResponse{Name: w.Name, Measurements: w.Measurements, AvailableTags: w.AvailableTags}
	if w.Description != nil {
		m.Description = *w.Description
	}
	if w.BaseUnit != nil {
		m.BaseUnit = *w.BaseUnit
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Sample is one measurement of a metric: COUNT, TOTAL_TIME, TOTAL, MAX or VALUE.
type Sample struct {
	Statistic string  `json:"statistic"`
	Value     float64 `json:"value"`
}

// MarshalJSON writes s with its value as a JSON number in Jackson's style
// (3.0 rather than 3, as Spring Boot answers) and a value that is not a
// number as null, which JSON can carry.
func (s Sample) MarshalJSON() ([]byte, error) {
	b := []byte(`{"statistic":`)
	b = strconv.AppendQuote(b, s.Statistic)
	b = append(b, `,"value":`...)
	b = appendNumber(b, s.Value)
	return append(b, '}'), nil
}

func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	// The same cut-offs as encoding/json between plain and exponent forms.
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if !strings.ContainsAny(string(b[n:]), ".e") {
		b = append(b, ".0"...)
	}
	return b
}

// AvailableTag is a tag of a metric and the values it takes, which a caller
// can narrow the metric by with ?tag=key:value.
type AvailableTag struct {
	Tag    string   `json:"tag"`
	Values []string `json:"values"`
}

// tag is one ?tag=key:value filter.
type tag struct{ key, value string }

func parseTags(qs []string) ([]tag, error) {
	tags := make([]tag, 0, len(qs))
	for _, q := range qs {
		k, v, ok := strings.Cut(q, ":")
		if !ok || k == "" {
			return nil, bank.Invalid("tag", fmt.Sprintf("%q must be key:value", q))
		}
		tags = append(tags, tag{k, v})
	}
	return tags, nil
}

func writeError(w http.ResponseWriter, err error) {
	status, body := httpapi.ErrorJSON(err)
	httpapi.WriteJSON(w, status, body)
}

func writeActuator(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	ct := "application/json"
	if strings.Contains(r.Header.Get("Accept"), actuatorJSON) {
		ct = actuatorJSON
	}
	w.Header().Set("Content-Type", ct)
	// Probes and operators must see the state now, not a cached one.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Mapping between Prometheus families and Micrometer's dotted names. Micrometer
// names a timer "http.server.requests" and its Prometheus registry writes it
// http_server_requests_seconds, with the window maximum as a separate
// http_server_requests_seconds_max gauge, and adds _total to counters. The
// mapping undoes that: timers and distributions lose _seconds, counters
// lose _total, a distribution's _max gauge is folded into it, and underscores
// become dots.

func isDistribution(mf *dto.MetricFamily) bool {
	switch mf.GetType() {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY:
		return true
	}
	return false // a nil family's type reads as COUNTER
}

func byName(mfs []*dto.MetricFamily) map[string]*dto.MetricFamily {
	m := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	return m
}

// maxOf returns the _max gauge that belongs to distribution mf, or nil.
func maxOf(families map[string]*dto.MetricFamily, mf *dto.MetricFamily) *dto.MetricFamily {
	if m := families[mf.GetName()+"_max"]; m.GetType() == dto.MetricType_GAUGE {
		return m
	}
	return nil
}

// metricNames returns the dotted names of mfs, sorted, as /actuator/metrics lists them.
func metricNames(mfs []*dto.MetricFamily) []string {
	families := byName(mfs)
	names := make([]string, 0, len(mfs))
	for _, mf := range mfs {
		name := mf.GetName()
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY:
			name = strings.TrimSuffix(name, "_seconds")
		case dto.MetricType_COUNTER:
			name = strings.TrimSuffix(name, "_total")
		case dto.MetricType_GAUGE:
			if base, ok := strings.CutSuffix(name, "_max"); ok && isDistribution(families[base]) {
				continue
			}
		}
		names = append(names, strings.ReplaceAll(name, "_", "."))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// findFamily returns the family a dotted (or Prometheus) name designates.
func findFamily(families map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	base := strings.ReplaceAll(name, ".", "_")
	if mf := families[base+"_seconds"]; isDistribution(mf) {
		return mf
	}
	if mf := families[base]; mf != nil {
		return mf
	}
	if mf := families[base+"_total"]; mf != nil && mf.GetType() == dto.MetricType_COUNTER {
		return mf
	}
	return nil
}

// baseUnit infers Micrometer's base unit from the unit suffix Prometheus
// names carry.
func baseUnit(family string) string {
	family = strings.TrimSuffix(family, "_total")
	switch {
	case strings.HasSuffix(family, "_seconds"):
		return "seconds"
	case strings.HasSuffix(family, "_bytes"):
		return "bytes"
	}
	return ""
}

// matches reports whether m carries every tag.
func matches(m *dto.Metric, tags []tag) bool {
	for _, t := range tags {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == t.key {
				found = l.GetValue() == t.value
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func matching(mf *dto.MetricFamily, tags []tag) []*dto.Metric {
	var ms []*dto.Metric
	for _, m := range mf.GetMetric() {
		if matches(m, tags) {
			ms = append(ms, m)
		}
	}
	return ms
}

// describeMetric answers /actuator/metrics/{name} from mfs the way Spring
// Boot does: the series that carry every tag are merged, MAX by maximum and
// every other statistic by sum; no such series is a miss. The tags asked for
// are left out of the available tags.
func describeMetric(mfs []*dto.MetricFamily, name string, tags []tag) (MetricResponse, bool) {
	families := byName(mfs)
	mf := findFamily(families, name)
	if mf == nil {
		return MetricResponse{}, false
	}
	ms := matching(mf, tags)
	if len(ms) == 0 {
		return MetricResponse{}, false
	}
	resp := MetricResponse{Name: name, Description: mf.GetHelp(), BaseUnit: baseUnit(mf.GetName())}
	var count, total float64
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		for _, m := range ms {
			count += m.GetCounter().GetValue()
		}
		resp.Measurements = []Sample{{"COUNT", count}}
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM, dto.MetricType_SUMMARY:
		for _, m := range ms {
			if h := m.GetHistogram(); h != nil {
				count += float64(h.GetSampleCount())
				total += h.GetSampleSum()
			} else {
				count += float64(m.GetSummary().GetSampleCount())
				total += m.GetSummary().GetSampleSum()
			}
		}
		totalStat := "TOTAL"
		if resp.BaseUnit == "seconds" {
			totalStat = "TOTAL_TIME"
		}
		resp.Measurements = []Sample{{"COUNT", count}, {totalStat, total}}
		if maxFamily := maxOf(families, mf); maxFamily != nil {
			maxValue := 0.0
			for _, m := range matching(maxFamily, tags) {
				maxValue = math.Max(maxValue, m.GetGauge().GetValue())
			}
			resp.Measurements = append(resp.Measurements, Sample{"MAX", maxValue})
		}
	default: // gauges and untyped series
		for _, m := range ms {
			if g := m.GetGauge(); g != nil {
				total += g.GetValue()
			} else {
				total += m.GetUntyped().GetValue()
			}
		}
		resp.Measurements = []Sample{{"VALUE", total}}
	}
	resp.AvailableTags = availableTags(ms, tags)
	return resp, true
}

func availableTags(ms []*dto.Metric, asked []tag) []AvailableTag {
	values := map[string][]string{}
	for _, m := range ms {
		for _, l := range m.GetLabel() {
			values[l.GetName()] = append(values[l.GetName()], l.GetValue())
		}
	}
	for _, t := range asked {
		delete(values, t.key)
	}
	tags := make([]AvailableTag, 0, len(values))
	for k, vs := range values {
		slices.Sort(vs)
		tags = append(tags, AvailableTag{Tag: k, Values: slices.Compact(vs)})
	}
	slices.SortFunc(tags, func(a, b AvailableTag) int { return strings.Compare(a.Tag, b.Tag) })
	return tags
}
