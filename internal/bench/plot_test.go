package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// element is one start tag of a parsed SVG, with the text directly inside it.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG walks the document with encoding/xml, failing the test on any
// error, and returns its elements in document order.
func parseSVG(t *testing.T, doc []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var (
		els   []element
		stack []int
		roots int
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
			}
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].text += string(tok)
			}
		}
	}
	if roots != 1 || len(els) == 0 || els[0].name != "svg" {
		t.Fatalf("want one <svg> root element, got %d roots, first %+v", roots, els[:min(1, len(els))])
	}
	return els
}

func writeSVG(t *testing.T, title string, samples []Sample) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSVG(&buf, title, samples); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	return buf.Bytes()
}

// texts are the contents of the document's <text> elements.
func texts(els []element) []string {
	var out []string
	for _, e := range els {
		if e.name == "text" {
			out = append(out, e.text)
		}
	}
	return out
}

func hasText(els []element, want string) bool {
	for _, s := range texts(els) {
		if s == want {
			return true
		}
	}
	return false
}

func byID(t *testing.T, els []element, id string) element {
	t.Helper()
	for _, e := range els {
		if e.attrs["id"] == id {
			return e
		}
	}
	t.Fatalf("no element with id %q", id)
	return element{}
}

// pathPoints counts the points of an SVG path made of M and L commands.
func pathPoints(d string) int {
	return strings.Count(d, "M") + strings.Count(d, "L")
}

func bars(els []element) int {
	n := 0
	for _, e := range els {
		if e.name == "rect" && e.attrs["class"] == "bar" {
			n++
		}
	}
	return n
}

func sample(at, latency time.Duration) Sample {
	return Sample{At: at, Latency: latency, Transfers: 1}
}

func TestWriteSVG(t *testing.T) {
	const ms = time.Millisecond
	const s = time.Second
	tests := []struct {
		name    string
		samples []Sample
		seconds int // one-second buckets with requests
		bars    int // non-empty histogram buckets
	}{
		{
			name:    "one sample",
			samples: []Sample{sample(300*ms, 4*ms)},
			seconds: 1, bars: 1,
		},
		{
			// Latencies in the middle of log buckets 0.1·10^(k/10) ms, so
			// rounding cannot move them: 1.1 ms, 1.15 ms (same bucket),
			// 12 ms, 150 ms.
			name: "three seconds, three buckets",
			samples: []Sample{
				sample(100*ms, 1100*time.Microsecond), sample(200*ms, 1150*time.Microsecond),
				sample(1500*ms, 12*ms), sample(2900*ms, 150*ms),
			},
			seconds: 3, bars: 3,
		},
		{
			name: "out of order, with a quiet second",
			samples: []Sample{
				sample(3*s+ms, 20*ms), sample(0, 2*ms), sample(3*s+500*ms, 21*ms), sample(10*ms, 3*ms),
			},
			seconds: 2, bars: 3,
		},
		{
			// Faster than the first bucket and slower than the last: counted
			// in them, not dropped.
			name:    "beyond the histogram's range",
			samples: []Sample{sample(0, 20*time.Microsecond), sample(s, 30*time.Microsecond), sample(2*s, 25*s)},
			seconds: 3, bars: 2,
		},
		{
			name: "failures and batches",
			samples: []Sample{
				{At: 0, Latency: 5 * ms, Transfers: 100},
				{At: 400 * ms, Latency: 60 * ms, Code: "503 unavailable"},
			},
			seconds: 1, bars: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els := parseSVG(t, writeSVG(t, "run", tt.samples))
			if got := pathPoints(byID(t, els, "latency-p99").attrs["d"]); got != tt.seconds {
				t.Errorf("p99 path has %d points, want %d (one per second with requests)", got, tt.seconds)
			}
			if got := pathPoints(byID(t, els, "latency-p50").attrs["d"]); got != tt.seconds {
				t.Errorf("p50 path has %d points, want %d", got, tt.seconds)
			}
			if got := bars(els); got != tt.bars {
				t.Errorf("histogram has %d bars, want %d (one per non-empty bucket)", got, tt.bars)
			}
			for _, label := range []string{
				"latency over time", "latency histogram", "seconds of the run",
				"latency (log scale)", "transfers/s", "requests",
			} {
				if !hasText(els, label) {
					t.Errorf("no text %q in %q", label, texts(els))
				}
			}
		})
	}
}

func TestWriteSVGTitleEscaped(t *testing.T) {
	const title = `a <b> & "c" 'd'`
	doc := writeSVG(t, title, []Sample{sample(0, time.Millisecond)})
	if !hasText(parseSVG(t, doc), title) {
		t.Errorf("title %q not among the texts", title)
	}
	if bytes.Contains(doc, []byte("<b>")) {
		t.Errorf("title written unescaped:\n%s", doc)
	}
	if !bytes.Contains(doc, []byte("a &lt;b&gt; &amp; ")) {
		t.Errorf("escaped title missing:\n%s", doc)
	}
}

func TestWriteSVGEmpty(t *testing.T) {
	for _, samples := range [][]Sample{nil, {}} {
		els := parseSVG(t, writeSVG(t, "nothing & more", samples))
		if !hasText(els, "no samples") {
			t.Errorf("no %q text in %q", "no samples", texts(els))
		}
		if !hasText(els, "nothing & more") {
			t.Errorf("no title in %q", texts(els))
		}
		if got := bars(els); got != 0 {
			t.Errorf("got %d histogram bars, want none", got)
		}
	}
}

func TestWriteSVGSeries(t *testing.T) {
	// Second 0: latencies 1..100 ms; second 1: 200 ms each, 50 of them a
	// batch of 10 transfers.
	var samples []Sample
	for i := 1; i <= 100; i++ {
		samples = append(samples, sample(time.Duration(i)*time.Millisecond, time.Duration(i)*time.Millisecond))
	}
	for i := range 50 {
		samples = append(samples, Sample{At: time.Second + time.Duration(i)*time.Millisecond, Latency: 200 * time.Millisecond, Transfers: 10})
	}
	els := parseSVG(t, writeSVG(t, "series", samples))

	// The run's quantiles over all 150 requests, by the nearest-rank rule
	// Summarize uses: p50 is the 75th, p99 the 149th.
	for _, want := range []string{"p50 75.0 ms", "p99 200 ms"} {
		if !hasText(els, want) {
			t.Errorf("no marker %q in %q", want, texts(els))
		}
	}
	// The throughput path goes up from second 0 to second 1 (100 then 500
	// transfers): y decreases.
	tput := twoPoints(t, byID(t, els, "throughput").attrs["d"])
	if !(tput[2] > tput[0] && tput[3] < tput[1]) {
		t.Errorf("throughput points %v: want the second right of and above the first", tput)
	}
	// Each second's p99 lies above (smaller y than) its p50 or on it.
	p50 := twoPoints(t, byID(t, els, "latency-p50").attrs["d"])
	p99 := twoPoints(t, byID(t, els, "latency-p99").attrs["d"])
	if !(p99[1] < p50[1] && p99[3] == p50[3]) {
		t.Errorf("p99 points %v, p50 points %v: want p99 above p50 in second 0 and equal in second 1", p99, p50)
	}
}

// TestWriteSVGManySamples checks that the document follows the seconds and
// buckets of the run, not its sample count.
func TestWriteSVGManySamples(t *testing.T) {
	samples := make([]Sample, 500_000)
	for i := range samples {
		// Ten seconds; latencies from 10 µs to 50 ms.
		samples[i] = sample(time.Duration(i%10)*time.Second+time.Duration(i%997)*time.Microsecond,
			time.Duration(1+i%5000)*10*time.Microsecond)
	}
	doc := writeSVG(t, "many", samples)
	els := parseSVG(t, doc)
	if got := pathPoints(byID(t, els, "latency-p99").attrs["d"]); got != 10 {
		t.Errorf("p99 path has %d points, want 10", got)
	}
	// Buckets of ten to a decade from 0.1 ms: the first (to 0.126 ms) also
	// takes everything faster, and 50 ms falls in the 27th (39.8–50.1 ms).
	if got, want := bars(els), 27; got != want {
		t.Errorf("histogram has %d bars, want %d", got, want)
	}
	if len(doc) > 64<<10 {
		t.Errorf("document is %d bytes for 10 seconds of samples: want it to grow with seconds, not samples", len(doc))
	}
}

// twoPoints reads the first two points of a path "Mx yLx y…" as x0, y0, x1, y1.
func twoPoints(t *testing.T, d string) [4]float64 {
	t.Helper()
	var p [4]float64
	r := strings.NewReplacer("M", " ", "L", " ")
	if _, err := fmt.Sscan(r.Replace(d), &p[0], &p[1], &p[2], &p[3]); err != nil {
		t.Fatalf("path %q: %v", d, err)
	}
	return p
}
