package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/client"
	"github.com/fintech-banking/bank/deploy/monitoring"
)

// System is the platform as the console's system page sees it and acts on
// it, as the signed-in staff member whose API client each call is given:
// the API decides what they may see and do.
type System interface {
	// Status is each service's health, the queues, maintenance and the
	// services' metrics, now.
	Status(ctx context.Context, api *client.Client) (SystemStatus, error)
	// SetMaintenance turns maintenance on (with message) or off.
	SetMaintenance(ctx context.Context, api *client.Client, on bool, message string) error
	// Redrive moves every dead-lettered message of the queue name back to
	// it and says how many it moved.
	Redrive(ctx context.Context, api *client.Client, name string) (int, error)
}

// SystemStatus is what System.Status reports.
type SystemStatus struct {
	Checks      []Check // by name
	Queues      []QueueDepth
	Maintenance bool
	Message     string
	Since       time.Time
	// Metrics are the services' series, each labelled with its service
	// (label "service").
	Metrics []*dto.MetricFamily
	Now     time.Time
}

// Check is one health check's status: UP, DOWN or UNKNOWN.
type Check struct{ Name, Status string }

// QueueDepth is one queue's depths.
type QueueDepth struct {
	Name                          string
	Visible, InFlight, DeadLetter int64
	OldestAge                     time.Duration
}

// keyMetric is a row of the runbook's key metrics (8.1) and the queue's:
// its thresholds are the rules Warn and Crit of the PrometheusRule, its
// value what the services measure.
type keyMetric struct {
	Name       string
	Warn, Crit string // alert names; "" for none
	Unit       string // "ratio", "seconds" or "count"
	Measure    func(st SystemStatus) (float64, string)
}

// keyMetrics are the rows of the system page. Rates are over the services'
// lives, not Prometheus's last 5 minutes.
var keyMetrics = []keyMetric{
	{"CPU usage (of the limit, since start)", "CPUUsageWarning", "CPUUsageCritical", "ratio", cpuUsage},
	{"Memory usage (of the limit)", "MemoryUsageWarning", "MemoryUsageCritical", "ratio", memoryUsage},
	{"API latency p99 (since start)", "APILatencyP99Warning", "APILatencyP99Critical", "seconds", latencyP99},
	{"Error rate (since start)", "ErrorRateWarning", "ErrorRateCritical", "ratio", errorRate},
	{"Queue depth", "QueueDepthWarning", "QueueDepthCritical", "count", gaugeMax("bank_queue_messages", "state", "visible")},
	{"DB connections (of the pool's max)", "DBConnectionsWarning", "DBConnectionsCritical", "ratio", dbConnections},
	{"Dead-letter queue", "DeadLetterQueueNotEmpty", "", "count", gaugeMax("bank_queue_messages", "state", "dead_letter")},
	{"Oldest queued message", "QueueOldestMessageAge", "", "seconds", gaugeMax("bank_queue_oldest_message_age_seconds", "", "")},
}

// threshold is one alert's comparison.
type threshold struct {
	Op    string
	Value float64
}

// ruleThreshold is an alert expression's trailing comparison: "… > 0.05".
var ruleThreshold = regexp.MustCompile(`([<>]=?)\s*([0-9][0-9.]*(?:e[+-]?[0-9]+)?)\s*$`)

// parseThresholds reads each alert's threshold from a PrometheusRule.
func parseThresholds(doc []byte) (map[string]threshold, error) {
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &rule); err != nil {
		return nil, fmt.Errorf("the alert rules: %w", err)
	}
	out := map[string]threshold{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			m := ruleThreshold.FindStringSubmatch(strings.TrimSpace(r.Expr))
			if r.Alert == "" || m == nil {
				continue
			}
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				return nil, fmt.Errorf("alert %s: threshold %q: %w", r.Alert, m[2], err)
			}
			out[r.Alert] = threshold{Op: m[1], Value: v}
		}
	}
	for _, k := range keyMetrics {
		for _, a := range []string{k.Warn, k.Crit} {
			if _, ok := out[a]; a != "" && !ok {
				return nil, fmt.Errorf("the alert rules have no threshold for %s", a)
			}
		}
	}
	return out, nil
}

// thresholds are those of deploy/monitoring's rules, read once.
var thresholds = func() map[string]threshold {
	t, err := parseThresholds(monitoring.Rules)
	if err != nil {
		panic(err) // the embedded rules are checked by TestThresholdsFromRules
	}
	return t
}()

func (t threshold) crossed(v float64) bool {
	switch t.Op {
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	case "<":
		return v < t.Value
	}
	return v <= t.Value
}

// metricRow is a key metric as the page shows it.
type metricRow struct {
	Name, Value, Warn, Crit string
	Level                   string // "ok", "warn", "crit" or "" (not measured)
}

func formatValue(unit string, v float64) string {
	switch unit {
	case "ratio":
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case "seconds":
		if v < 1 {
			return strconv.FormatFloat(v*1000, 'f', 0, 64) + " ms"
		}
		return (time.Duration(v * float64(time.Second))).Round(time.Second).String()
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func (t threshold) text(unit string) string { return t.Op + " " + formatValue(unit, t.Value) }

// metricRows measures every key metric against its thresholds.
func metricRows(st SystemStatus) []metricRow {
	var rows []metricRow
	for _, k := range keyMetrics {
		r := metricRow{Name: k.Name, Warn: "—", Crit: "—"}
		warn, hasWarn := thresholds[k.Warn]
		crit, hasCrit := thresholds[k.Crit]
		if hasWarn {
			r.Warn = warn.text(k.Unit)
		}
		if hasCrit {
			r.Crit = crit.text(k.Unit)
		}
		v, why := k.Measure(st)
		switch {
		case why != "":
			r.Value = why
		case math.IsNaN(v):
			r.Value = "no data yet"
		default:
			r.Value = formatValue(k.Unit, v)
			r.Level = "ok"
			if hasWarn && warn.crossed(v) {
				r.Level = "warn"
			}
			if hasCrit && crit.crossed(v) {
				r.Level = "crit"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// family returns the metric family name, or nil.
func family(st SystemStatus, name string) *dto.MetricFamily {
	for _, f := range st.Metrics {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// gaugeMax is the largest value of a gauge's series whose label is value
// (every series when label is "").
func gaugeMax(name, lbl, want string) func(SystemStatus) (float64, string) {
	return func(st SystemStatus) (float64, string) {
		f := family(st, name)
		if f == nil {
			return 0, "not measured by the services"
		}
		v := math.NaN()
		for _, m := range f.GetMetric() {
			if lbl != "" && label(m, lbl) != want {
				continue
			}
			if x := value(m); math.IsNaN(v) || x > v {
				v = x
			}
		}
		return v, ""
	}
}

// perService is the value of each service's (label "service") first series
// of the family name.
func perService(st SystemStatus, name string) map[string]float64 {
	out := map[string]float64{}
	f := family(st, name)
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		if svc := label(m, "service"); !hasKey(out, svc) {
			out[svc] = value(m)
		}
	}
	return out
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }

// ofLimit is the largest share of its limit that a service uses, by
// use(service) over the service's limit; why says why there is none.
func ofLimit(st SystemStatus, used, limitName, noLimit string, use func(svc string, v float64) float64) (float64, string) {
	values, limits := perService(st, used), perService(st, limitName)
	if len(values) == 0 {
		return 0, "not measured by the services"
	}
	v, limited := math.NaN(), false
	for svc, x := range values {
		l := limits[svc]
		if l <= 0 {
			continue
		}
		limited = true
		if r := use(svc, x) / l; !math.IsNaN(r) && (math.IsNaN(v) || r > v) {
			v = r
		}
	}
	if !limited {
		return 0, noLimit
	}
	return v, ""
}

// cpuUsage is the CPU a service used since it started, of its limit: the
// largest over the services.
func cpuUsage(st SystemStatus) (float64, string) {
	starts := perService(st, "process_start_time_seconds")
	return ofLimit(st, "process_cpu_seconds_total", "bank_cpu_limit_cores", "no CPU limit set", func(svc string, cpu float64) float64 {
		start, ok := starts[svc]
		up := float64(st.Now.UnixNano())/1e9 - start
		if !ok || up <= 0 {
			return math.NaN()
		}
		return cpu / up
	})
}

// memoryUsage is a service's resident memory of its limit: the largest
// over the services.
func memoryUsage(st SystemStatus) (float64, string) {
	return ofLimit(st, "process_resident_memory_bytes", "bank_memory_limit_bytes", "no memory limit set",
		func(_ string, rss float64) float64 { return rss })
}

// requests walks the API's request histogram, leaving out the Actuator's
// and maintenance's answers as the alert rules do.
func requests(st SystemStatus, each func(m *dto.Metric)) bool {
	f := family(st, "http_server_requests_seconds")
	if f == nil {
		return false
	}
	for _, m := range f.GetMetric() {
		if strings.HasPrefix(label(m, "uri"), "/actuator") || label(m, "exception") == "maintenance" {
			continue
		}
		each(m)
	}
	return true
}

func errorRate(st SystemStatus) (float64, string) {
	var errs, all float64
	if !requests(st, func(m *dto.Metric) {
		n := float64(m.GetHistogram().GetSampleCount())
		all += n
		if label(m, "outcome") == "SERVER_ERROR" {
			errs += n
		}
	}) {
		return 0, "not measured by the services"
	}
	if all == 0 {
		return math.NaN(), ""
	}
	return errs / all, ""
}

// latencyP99 is the 99th percentile of the request histogram, read as
// Prometheus's histogram_quantile reads its buckets.
func latencyP99(st SystemStatus) (float64, string) {
	buckets := map[float64]float64{}
	var total float64
	if !requests(st, func(m *dto.Metric) {
		h := m.GetHistogram()
		total += float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}) {
		return 0, "not measured by the services"
	}
	if total == 0 {
		return math.NaN(), ""
	}
	bounds := make([]float64, 0, len(buckets))
	for b := range buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	rank := 0.99 * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		c := buckets[b]
		if c < rank {
			lower, below = b, c
			continue
		}
		switch {
		case math.IsInf(b, 1): // in the +Inf bucket: the last finite bound, as histogram_quantile
			return lower, ""
		case c == below:
			return b, ""
		}
		return lower + (b-lower)*(rank-below)/(c-below), ""
	}
	return lower, ""
}

func dbConnections(st SystemStatus) (float64, string) {
	active, max := family(st, "hikaricp_connections_active"), family(st, "hikaricp_connections_max")
	if active == nil || max == nil {
		return 0, "not measured by the services"
	}
	v := math.NaN()
	for _, a := range active.GetMetric() {
		for _, m := range max.GetMetric() {
			if label(a, "pool") == label(m, "pool") && label(a, "service") == label(m, "service") && value(m) > 0 {
				if x := value(a) / value(m); math.IsNaN(v) || x > v {
					v = x
				}
			}
		}
	}
	return v, ""
}

type systemData struct {
	Available bool
	Status    SystemStatus
	Metrics   []metricRow
	Admin     bool
	Default   string // the maintenance message offered
}

// system is the platform's health, queues, maintenance and key metrics. It
// stays open to admins during maintenance, so they can end it.
func (s *Server) system(w http.ResponseWriter, r *http.Request) {
	d := systemData{Default: defaultMaintenanceMessage}
	if s.sys != nil {
		ss := s.session(r)
		c, err := s.as(r.Context(), ss)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		st, err := s.sys.Status(r.Context(), c)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Available, d.Status, d.Metrics = true, st, metricRows(st)
		slices.SortFunc(d.Status.Checks, func(a, b Check) int { return strings.Compare(a.Name, b.Name) })
	}
	d.Admin = s.isAdmin(r)
	s.render(w, r, http.StatusOK, "system", page{Title: "System", Data: d})
}

const defaultMaintenanceMessage = "The bank is down for maintenance. Please try again later."

// inMaintenance reports whether the platform is in maintenance, as far as
// this process knows.
func (s *Server) inMaintenance() bool {
	if s.maint == nil {
		return false
	}
	on, _, _ := s.maint()
	return on
}

// isAdmin reports whether the signed-in user is an admin: asked of the API
// (a role taken away ends the admin's powers at once), or, while the API
// answers nothing but maintenance, as the user was at sign-in.
func (s *Server) isAdmin(r *http.Request) bool {
	ss := s.session(r)
	if ss == nil {
		return false
	}
	if s.inMaintenance() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return ss.user != nil && ss.user.Role == "admin"
	}
	c, err := s.as(r.Context(), ss)
	if err == nil {
		var u *client.User
		if u, err = c.Me(r.Context()); err == nil {
			return u.Role == "admin"
		}
	}
	// A web server alone learns of maintenance from the API's answers:
	// the system endpoints, which admins act through, still answer and
	// check the role themselves.
	var ae *client.Error
	if errors.As(err, &ae) && ae.Code == "maintenance" {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return ss.user != nil && ss.user.Role == "admin"
	}
	return false
}

// admin checks the form and that its sender is an admin, answering the
// request itself when not.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) (*session, bool) {
	ss, ok := s.checkForm(w, r)
	if !ok {
		return nil, false
	}
	if s.sys == nil || !s.isAdmin(r) {
		s.render(w, r, http.StatusForbidden, "problem", page{Title: "That did not work", Data: messages["forbidden"]})
		return nil, false
	}
	return ss, true
}

func (s *Server) setMaintenance(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.admin(w, r)
	if !ok {
		return
	}
	on := r.PostForm.Get("mode") == "on"
	message := strings.TrimSpace(r.PostForm.Get("message"))
	if message == "" {
		message = defaultMaintenanceMessage
	}
	c, err := s.as(r.Context(), ss)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.sys.SetMaintenance(r.Context(), c, on, message); err != nil {
		s.fail(w, r, err)
		return
	}
	ss.mu.Lock()
	who := ss.user.Email
	ss.mu.Unlock()
	s.log.WarnContext(r.Context(), "maintenance set from the console", "on", on, "by", who)
	if on {
		ss.setFlash("Maintenance is on: customers see the maintenance page; the console stays open.")
	} else {
		ss.setFlash("Maintenance is off.")
	}
	http.Redirect(w, r, "/console/system", http.StatusSeeOther)
}

func (s *Server) redrive(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.admin(w, r)
	if !ok {
		return
	}
	c, err := s.as(r.Context(), ss)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PostForm.Get("queue")
	n, err := s.sys.Redrive(r.Context(), c, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ss.mu.Lock()
	who := ss.user.Email
	ss.mu.Unlock()
	s.log.WarnContext(r.Context(), "dead-letter queue redriven from the console", "queue", name, "moved", n, "by", who)
	ss.setFlash(fmt.Sprintf("Moved %d messages from the dead-letter queue back to %s.", n, name))
	http.Redirect(w, r, "/console/system", http.StatusSeeOther)
}
