package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Chart geometry, in SVG user units. The panels share the left and right
// edges so the time axes of the latency and throughput panels line up.
const (
	svgWidth  = 960
	svgHeight = 780
	plotLeft  = 84
	plotRight = 930

	latTop, latHeight   = 92, 220 // latency over time
	tputTop, tputHeight = 350, 80 // throughput, same time axis
	histTop, histHeight = 530, 190

	fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"
)

// The histogram's buckets: log-spaced, binsPerDecade to a decade, from
// histMin to histMin·10^histDecades (0.1 ms to 10 s). Faster requests are
// counted in the first bucket and slower ones in the last.
const (
	histMin       = 100 * time.Microsecond
	binsPerDecade = 10
	histDecades   = 5
	histBins      = binsPerDecade * histDecades
)

// Series colours, chosen to stay apart for colour-blind readers.
const (
	colorP50    = "#1f77b4"
	colorP99    = "#ff7f0e"
	colorMax    = "#d62728"
	colorTput   = "#2ca02c"
	colorErrors = "#d62728"
	colorBar    = "#9ecae1"
	colorBarEdg = "#3182bd"
	colorGrid   = "#e6e6e6"
	colorAxis   = "#444"
	colorMuted  = "#666"
)

// WriteSVG writes a latency-over-time chart and a latency histogram of
// samples as one self-contained SVG document: p50, p99 and max latency and
// the throughput for each second of the run, then the count of requests in
// log-spaced latency buckets with p50 and p99 marked. Samples need not be in
// order. Beyond one copy of the latencies, which it sorts, it keeps memory
// in proportion to the seconds of the run and the buckets.
func WriteSVG(w io.Writer, title string, samples []Sample) error {
	var c canvas
	if len(samples) == 0 {
		c.open(320)
		c.title(title)
		c.printf(`<text x="%d" y="%d" text-anchor="middle" font-size="16" fill="%s">no samples</text>`+"\n",
			svgWidth/2, 180, colorMuted)
	} else {
		st := summarizeForPlot(samples)
		c.open(svgHeight)
		c.title(title)
		c.printf(`<text x="%d" y="%d" text-anchor="middle" font-size="12" fill="%s">%s</text>`+"\n",
			svgWidth/2, 50, colorMuted, esc(st.subtitle()))
		c.latencyPanel(st)
		c.throughputPanel(st)
		c.histogramPanel(st)
	}
	c.printf("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

// second holds the figures of the requests that started in one second of
// the run.
type second struct {
	requests, transfers, errors int
	p50, p99, max               time.Duration
}

// plotStats is what the chart draws, computed in one pass over the samples
// and a sort.
type plotStats struct {
	seconds                 []second
	hist                    [histBins]int
	requests, transfers     int
	errors                  int
	p50, p99, max, min      time.Duration
	span                    time.Duration // of the seconds that had requests
	minP50, maxMax, maxTput float64       // ranges of the time panels
}

func summarizeForPlot(samples []Sample) plotStats {
	var st plotStats
	n := 0
	for _, s := range samples {
		n = max(n, secondOf(s.At)+1)
	}
	st.seconds = make([]second, n)
	// Group the latencies by second with a counting sort, so each second's
	// quantiles are exact, then sort the whole for the run's quantiles.
	start := make([]int, n+1)
	for _, s := range samples {
		i := secondOf(s.At)
		start[i+1]++
		sec := &st.seconds[i]
		sec.requests++
		sec.transfers += s.Transfers
		if s.Code != "" {
			sec.errors++
		}
	}
	for i := range n {
		start[i+1] += start[i]
	}
	next := slices.Clone(start[:n])
	lat := make([]time.Duration, len(samples))
	for _, s := range samples {
		i := secondOf(s.At)
		lat[next[i]] = s.Latency
		next[i]++
	}
	st.minP50 = math.Inf(1)
	for i := range st.seconds {
		sec := &st.seconds[i]
		seg := lat[start[i]:start[i+1]]
		st.requests += sec.requests
		st.transfers += sec.transfers
		st.errors += sec.errors
		st.maxTput = max(st.maxTput, float64(sec.transfers), float64(sec.errors))
		if len(seg) == 0 {
			continue
		}
		slices.Sort(seg)
		sec.p50, sec.p99, sec.max = quantile(seg, 0.50), quantile(seg, 0.99), seg[len(seg)-1]
		st.minP50 = min(st.minP50, ms(sec.p50))
		st.maxMax = max(st.maxMax, ms(sec.max))
	}
	slices.Sort(lat)
	st.p50, st.p99, st.min, st.max = quantile(lat, 0.50), quantile(lat, 0.99), lat[0], lat[len(lat)-1]
	for _, d := range lat {
		st.hist[binOf(d)]++
	}
	st.span = time.Duration(n) * time.Second
	return st
}

func (st plotStats) subtitle() string {
	s := fmt.Sprintf("%s, %s in %d s; p50 %s, p99 %s, max %s",
		plural(st.requests, "request"), plural(st.transfers, "transfer"), len(st.seconds),
		latency(st.p50), latency(st.p99), latency(st.max))
	if st.errors > 0 {
		s += "; " + plural(st.errors, "error")
	}
	return s
}

// secondOf is the index of the one-second bucket of a request that started
// at. Run records no warm-up samples, so at is not negative; a negative one
// is counted in the first second rather than dropped.
func secondOf(at time.Duration) int {
	return max(0, int(at/time.Second))
}

// binOf is the histogram bucket of latency d.
func binOf(d time.Duration) int {
	if d <= histMin {
		return 0
	}
	// The small epsilon puts a latency on a bucket's lower edge in that
	// bucket despite rounding in Log10.
	i := int(math.Floor(math.Log10(float64(d)/float64(histMin))*binsPerDecade + 1e-9))
	return min(i, histBins-1)
}

// binEdge is the lower edge of bucket i, in milliseconds.
func binEdge(i int) float64 {
	return ms(histMin) * math.Pow(10, float64(i)/binsPerDecade)
}

func binEdgeDuration(i int) time.Duration {
	return time.Duration(binEdge(i) * float64(time.Millisecond))
}

// quantile is the p-quantile of sorted, by the nearest-rank rule Summarize
// uses, so the chart and the summary agree.
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// canvas accumulates the document, so a failed write leaves nothing half
// drawn behind it but what w itself kept.
type canvas struct {
	b strings.Builder
}

func (c *canvas) printf(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

func (c *canvas) open(height int) {
	c.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="11">`+"\n",
		svgWidth, height, svgWidth, height, fontFamily)
	c.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
}

func (c *canvas) title(title string) {
	c.printf(`<title>%s</title>`+"\n", esc(title))
	c.printf(`<text x="%d" y="28" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">%s</text>`+"\n",
		svgWidth/2, esc(title))
}

// panelTitle writes a panel's heading above its top-left corner.
func (c *canvas) panelTitle(top int, text string) {
	c.printf(`<text x="%d" y="%d" font-size="14" font-weight="bold" fill="#222">%s</text>`+"\n",
		plotLeft, top-12, esc(text))
}

// yLabel writes an axis label turned to read upwards, left of the panel.
func (c *canvas) yLabel(top, height int, text string) {
	x, y := plotLeft-62, top+height/2
	c.printf(`<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle" fill="%s">%s</text>`+"\n",
		x, y, x, y, colorAxis, esc(text))
}

// frame draws the panel's axes: a left and a bottom line.
func (c *canvas) frame(top, height int) {
	c.printf(`<path d="M%d %dV%dH%d" fill="none" stroke="%s"/>`+"\n",
		plotLeft, top, top+height, plotRight, colorAxis)
}

// legend writes entries right-aligned on the line of the panel title.
func (c *canvas) legend(top int, entries []legendEntry) {
	x := plotRight
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		x -= textWidth(e.label)
		c.printf(`<text x="%d" y="%d" fill="#222">%s</text>`+"\n", x, top-12, esc(e.label))
		x -= 26
		switch e.kind {
		case "bar":
			c.printf(`<rect x="%d" y="%d" width="18" height="9" fill="%s" stroke="%s"/>`+"\n",
				x, top-21, colorBar, colorBarEdg)
		default:
			c.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n",
				x, top-16, x+20, top-16, e.color, dashAttr(e.kind))
		}
		x -= 14
	}
}

type legendEntry struct {
	label, color, kind string // kind: "line", "dashed" or "bar"
}

func dashAttr(kind string) string {
	if kind == "dashed" {
		return ` stroke-dasharray="5 3"`
	}
	return ""
}

// timeX maps seconds of the run to x.
func (st plotStats) timeX(sec float64) float64 {
	return plotLeft + sec/st.span.Seconds()*(plotRight-plotLeft)
}

// timeAxis draws the ticks and grid of the shared time axis under a panel;
// labelled says whether to write the tick labels and the axis label.
func (c *canvas) timeAxis(st plotStats, top, height int, labelled bool) {
	total := st.span.Seconds()
	step := max(niceStep(total/10), 1) // whole seconds
	for t := 0.0; t <= total+1e-9; t += step {
		x := st.timeX(t)
		bottom := top + height
		c.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, top, x, bottom, colorGrid)
		c.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, bottom, x, bottom+4, colorAxis)
		if labelled {
			c.printf(`<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n",
				x, bottom+16, colorAxis, trimFloat(t))
		}
	}
	if labelled {
		c.printf(`<text x="%d" y="%d" text-anchor="middle" fill="%s">seconds of the run</text>`+"\n",
			(plotLeft+plotRight)/2, top+height+34, colorAxis)
	}
}

// logAxis is a base-10 logarithmic scale over whole decades of milliseconds.
type logAxis struct {
	lo, hi float64 // decade exponents, lo < hi
}

func newLogAxis(minMs, maxMs float64) logAxis {
	minMs = max(minMs, 0.001) // a microsecond: below the clock's grain here
	maxMs = max(maxMs, minMs)
	a := logAxis{lo: math.Floor(math.Log10(minMs)), hi: math.Ceil(math.Log10(maxMs))}
	if a.hi <= a.lo {
		a.hi = a.lo + 1
	}
	return a
}

// frac is where v (ms) lies on the axis, from 0 to 1, clamped.
func (a logAxis) frac(v float64) float64 {
	v = max(v, math.Pow(10, a.lo))
	return min(1, (math.Log10(v)-a.lo)/(a.hi-a.lo))
}

// ticks are the values (ms) to mark: every decade, and 2 and 5 within each
// decade when the axis is short enough for them to be read.
func (a logAxis) ticks() (major, minor []float64) {
	for e := a.lo; e <= a.hi; e++ {
		d := math.Pow(10, e)
		major = append(major, d)
		if e < a.hi && a.hi-a.lo <= 3 {
			minor = append(minor, 2*d, 5*d)
		}
	}
	return major, minor
}

func (c *canvas) latencyPanel(st plotStats) {
	top, height := latTop, latHeight
	c.panelTitle(top, "latency over time")
	c.legend(top, []legendEntry{
		{"p50", colorP50, "line"}, {"p99", colorP99, "line"}, {"max", colorMax, "dashed"},
	})
	ax := newLogAxis(st.minP50, st.maxMax)
	y := func(v float64) float64 { return float64(top+height) - ax.frac(v)*float64(height) }
	major, minor := ax.ticks()
	for _, v := range minor {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-dasharray="2 3"/>`+"\n",
			plotLeft, y(v), plotRight, y(v), colorGrid)
		c.printf(`<text x="%d" y="%.1f" text-anchor="end" fill="%s" font-size="10">%s</text>`+"\n",
			plotLeft-6, y(v)+3.5, colorMuted, msLabel(v))
	}
	for _, v := range major {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotLeft, y(v), plotRight, y(v), colorGrid)
		c.printf(`<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", plotLeft-6, y(v)+4, colorAxis, msLabel(v))
	}
	c.timeAxis(st, top, height, false)
	c.yLabel(top, height, "latency (log scale)")
	c.frame(top, height)
	pick := map[string]func(second) time.Duration{
		"p50": func(s second) time.Duration { return s.p50 },
		"p99": func(s second) time.Duration { return s.p99 },
		"max": func(s second) time.Duration { return s.max },
	}
	// max goes on top: it is thin and dashed, so p99 shows through its gaps
	// where the two meet, as they do in seconds of few requests.
	for _, series := range []legendEntry{
		{"p50", colorP50, "line"}, {"p99", colorP99, "line"}, {"max", colorMax, "dashed"},
	} {
		width := "2"
		if series.kind == "dashed" {
			width = "1.2"
		}
		c.series(st, "latency-"+series.label, series.color, width, dashAttr(series.kind), func(i int) (float64, bool) {
			s := st.seconds[i]
			return y(ms(pick[series.label](s))), s.requests > 0
		})
	}
}

func (c *canvas) throughputPanel(st plotStats) {
	top, height := tputTop, tputHeight
	entries := []legendEntry{{"transfers/s", colorTput, "line"}}
	if st.errors > 0 {
		entries = append(entries, legendEntry{"errors/s", colorErrors, "line"})
	}
	c.legend(top, entries)
	c.printf(`<text x="%d" y="%d" font-size="12" fill="#222">throughput</text>`+"\n", plotLeft, top-12)
	step := max(niceStep(st.maxTput/3), 1) // whole transfers
	hi := max(math.Ceil(st.maxTput/step), 1) * step
	y := func(v float64) float64 { return float64(top+height) - v/hi*float64(height) }
	for v := 0.0; v <= hi+step/2; v += step {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotLeft, y(v), plotRight, y(v), colorGrid)
		c.printf(`<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", plotLeft-6, y(v)+4, colorAxis, count(int(v)))
	}
	c.timeAxis(st, top, height, true)
	c.yLabel(top, height, "transfers/s")
	c.frame(top, height)
	c.series(st, "throughput", colorTput, "2", "", func(i int) (float64, bool) {
		return y(float64(st.seconds[i].transfers)), true
	})
	if st.errors > 0 {
		c.series(st, "errors", colorErrors, "1.5", "", func(i int) (float64, bool) {
			return y(float64(st.seconds[i].errors)), true
		})
	}
}

// series draws one value per second as a path through the middle of each
// second, with a point for each second that point says has a value; a
// second without one breaks the line. Short runs get a dot on every point,
// so a run of one second still shows.
func (c *canvas) series(st plotStats, id, color, width, dash string, point func(i int) (float64, bool)) {
	var d strings.Builder
	var dots []string
	gap := true
	for i := range st.seconds {
		y, ok := point(i)
		if !ok {
			gap = true
			continue
		}
		x := st.timeX(float64(i) + 0.5)
		cmd := "L"
		if gap {
			cmd = "M"
		}
		gap = false
		fmt.Fprintf(&d, "%s%.1f %.1f", cmd, x, y)
		if len(st.seconds) <= 30 {
			dots = append(dots, fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="2.5"/>`, x, y))
		}
	}
	c.printf(`<path id="%s" d="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s/>`+"\n",
		id, d.String(), color, width, dash)
	if len(dots) > 0 {
		c.printf(`<g fill="%s">%s</g>`+"\n", color, strings.Join(dots, ""))
	}
}

func (c *canvas) histogramPanel(st plotStats) {
	top, height := histTop, histHeight
	c.panelTitle(top, "latency histogram")
	c.legend(top, []legendEntry{
		{"requests", "", "bar"}, {"p50", colorP50, "dashed"}, {"p99", colorP99, "dashed"},
	})
	first, last, most := histBins, -1, 0
	for i, n := range st.hist {
		if n > 0 {
			first, last = min(first, i), max(last, i)
			most = max(most, n)
		}
	}
	ax := newLogAxis(binEdge(first), binEdge(last+1))
	x := func(v float64) float64 { return plotLeft + ax.frac(v)*(plotRight-plotLeft) }
	step := max(niceStep(float64(most)/4), 1) // whole requests
	hi := math.Ceil(float64(most)/step) * step
	y := func(v float64) float64 { return float64(top+height) - v/hi*float64(height) }
	for v := 0.0; v <= hi+step/2; v += step {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", plotLeft, y(v), plotRight, y(v), colorGrid)
		c.printf(`<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", plotLeft-6, y(v)+4, colorAxis, count(int(v)))
	}
	bottom := top + height
	major, minor := ax.ticks()
	for _, v := range minor {
		c.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x(v), bottom, x(v), bottom+3, colorAxis)
		c.printf(`<text x="%.1f" y="%d" text-anchor="middle" fill="%s" font-size="10">%s</text>`+"\n",
			x(v), bottom+15, colorMuted, msLabel(v))
	}
	for _, v := range major {
		c.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x(v), bottom, x(v), bottom+5, colorAxis)
		c.printf(`<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n",
			x(v), bottom+16, colorAxis, msLabel(v))
	}
	c.printf(`<text x="%d" y="%d" text-anchor="middle" fill="%s">latency (log scale)</text>`+"\n",
		(plotLeft+plotRight)/2, bottom+34, colorAxis)
	c.yLabel(top, height, "requests")

	c.printf(`<g id="histogram" fill="%s" stroke="%s" stroke-width="0.6">`+"\n", colorBar, colorBarEdg)
	for i, n := range st.hist {
		if n == 0 {
			continue
		}
		// A bucket of a few requests among millions still gets a visible
		// sliver: the slow tail is what the chart is read for.
		x0, x1 := x(binEdge(i)), x(binEdge(i+1))
		h := max(float64(bottom)-y(float64(n)), 1)
		c.printf(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s – %s: %s</title></rect>`+"\n",
			x0+0.5, float64(bottom)-h, max(x1-x0-1, 0.5), h,
			latency(binEdgeDuration(i)), latency(binEdgeDuration(i+1)), plural(n, "request"))
	}
	c.printf("</g>\n")
	c.frame(top, height)

	// The p50 label goes left of its line and the p99 label right of its
	// own, on different heights, so close quantiles do not overprint.
	c.marker(x(ms(st.p50)), top, bottom, colorP50, "p50 "+latency(st.p50), true, top+12)
	c.marker(x(ms(st.p99)), top, bottom, colorP99, "p99 "+latency(st.p99), false, top+28)
}

func (c *canvas) marker(x float64, top, bottom int, color, label string, left bool, labelY int) {
	c.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`+"\n",
		x, top, x, bottom, color)
	w := float64(textWidth(label))
	anchor, tx := "end", x-5
	if !left {
		anchor, tx = "start", x+5
	}
	// Keep the label inside the panel.
	if anchor == "end" && tx-w < plotLeft {
		anchor, tx = "start", x+5
	} else if anchor == "start" && tx+w > plotRight {
		anchor, tx = "end", x-5
	}
	c.printf(`<text x="%.1f" y="%d" text-anchor="%s" fill="%s" font-weight="bold" stroke="white" stroke-width="3" paint-order="stroke">%s</text>`+"\n",
		tx, labelY, anchor, color, esc(label))
}

// niceStep is the smallest of 1, 2 or 5 times a power of ten that is at
// least v: a tick step people read easily.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// msLabel writes a tick value given in milliseconds with its unit.
func msLabel(v float64) string {
	switch {
	case v >= 1000:
		return trimFloat(v/1000) + " s"
	case v >= 1:
		return trimFloat(v) + " ms"
	default:
		return trimFloat(v*1000) + " µs"
	}
}

// latency writes d to three significant digits in ms or s.
func latency(d time.Duration) string {
	v := ms(d)
	unit := "ms"
	if v >= 1000 {
		v, unit = v/1000, "s"
	}
	return strconv.FormatFloat(v, 'f', max(0, 2-int(math.Floor(math.Log10(max(v, 0.001))))), 64) + " " + unit
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// count writes n compactly: 950, 12k, 1.5M.
func count(n int) string {
	v := float64(n)
	switch {
	case v >= 1e6:
		return trimFloat(math.Round(v/1e5)/10) + "M"
	case v >= 1e4:
		return trimFloat(math.Round(v/1e3)) + "k"
	case v >= 1e3:
		return trimFloat(math.Round(v/1e2)/10) + "k"
	}
	return strconv.Itoa(n)
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// textWidth guesses the width of text at the chart's 11-unit font; SVG has
// no way to measure it before a renderer lays it out.
func textWidth(s string) int {
	return int(float64(len([]rune(s)))*6.2 + 0.5)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder: no error
	return b.String()
}
