package event_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fintech-banking/bank/internal/event"
)

func records(t *testing.T, queues ...string) []event.Record {
	t.Helper()
	var recs []event.Record
	for i, q := range queues {
		h := event.NewHeader(fmt.Sprintf("test.%d", i), time.Now())
		r, err := event.Encode(&h)
		if err != nil {
			t.Fatal(err)
		}
		r.Queue = q
		recs = append(recs, r)
	}
	return recs
}

// TestGroup: the events of one queue travel together, in order, up to
// GroupMax a message, and Split gives them back; an event alone is its body.
func TestGroup(t *testing.T) {
	t.Parallel()
	one := records(t, "")
	if got := event.Group(one); len(got) != 1 || !bytes.Equal(got[0].Payload, one[0].Payload) {
		t.Errorf("an event alone became %s", got[0].Payload)
	}
	var queues []string
	for i := range event.GroupMax + 3 {
		q := event.Queue
		if i%2 == 1 {
			q = event.SearchQueue
		}
		queues = append(queues, q)
	}
	recs := records(t, queues...)
	kept := bytes.Clone(recs[0].Payload)
	msgs := event.Group(recs)
	if !bytes.Equal(recs[0].Payload, kept) {
		t.Error("Group changed its caller's record")
	}
	// 27 and 26 events of two queues: a message each.
	got := map[string][]string{}
	for _, m := range msgs {
		parts, err := event.Split(m.Payload)
		if err != nil {
			t.Fatalf("split %s: %v", m.Payload, err)
		}
		for _, p := range parts {
			e, err := event.Decode(p)
			if !errors.Is(err, event.ErrUnknownType) {
				t.Fatalf("decode %s: %v", p, err)
			}
			got[m.QueueName()] = append(got[m.QueueName()], e.Head().EventID)
		}
	}
	if len(msgs) != 2 {
		t.Errorf("%d messages for two queues' events", len(msgs))
	}
	want := map[string][]string{}
	for _, r := range recs {
		want[r.QueueName()] = append(want[r.QueueName()], r.ID)
	}
	for q := range want {
		if !slices.Equal(got[q], want[q]) {
			t.Errorf("queue %s: events %v, want %v", q, got[q], want[q])
		}
	}
	many := event.Group(records(t, make([]string, 2*event.GroupMax+1)...))
	var sizes []int
	for _, m := range many {
		parts, _ := event.Split(m.Payload)
		sizes = append(sizes, len(parts))
	}
	if !slices.Equal(sizes, []int{event.GroupMax, event.GroupMax, 1}) {
		t.Errorf("%d events of one queue in messages of %v, want at most %d each", 2*event.GroupMax+1, sizes, event.GroupMax)
	}
}

// TestSplitMalformed: a body that starts as a group and is not one is
// malformed, whole.
func TestSplitMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[`, `[]`, ` [ ]`, `[{}`, `[{},]`, `[{},{}]x`, `[1]`, `[{"a":"}"]`, `[{}{}]`, `[{},[]]`,
		`[{"a":"\"}]`, "[{}\x00]", `[{}],`} {
		if parts, err := event.Split([]byte(body)); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("Split(%q) = %q, %v; want ErrMalformed", body, parts, err)
		}
	}
	for body, want := range map[string]int{`{"a":1}`: 1, `x`: 1, ``: 1, ` [ {"a":"]"} , {"b":[{}]} ] `: 2, `[{"a":"\\"}]`: 1} {
		if parts, err := event.Split([]byte(body)); err != nil || len(parts) != want {
			t.Errorf("Split(%q) = %q, %v; want %d parts", body, parts, err, want)
		}
	}
}

// FuzzSplit: whatever the body, Split does not crash; and when the body is
// a JSON array of objects it returns exactly its elements, and when it
// returns elements that are all valid JSON, the body was such an array.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`[{"a":1},{"b":"]}"}]`, `{"event_id":"e"}`, `[]`, ` [{"a":[1,{"b":"\""}]}] `, `[{},{}]`, `[{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := event.Split(body)
		var elems []jsontext.Value
		isArray := bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("[")) &&
			jsonv2.Unmarshal(body, &elems) == nil && len(elems) > 0 &&
			!slices.ContainsFunc(elems, func(v jsontext.Value) bool { return v.Kind() != '{' })
		if isArray {
			if err != nil || len(parts) != len(elems) {
				t.Fatalf("Split(%q) = %d parts, %v; want the %d elements", body, len(parts), err, len(elems))
			}
			for i := range parts {
				if !bytes.Equal(parts[i], elems[i]) {
					t.Fatalf("Split(%q): part %d %q, want %q", body, i, parts[i], elems[i])
				}
			}
			return
		}
		if err != nil || len(parts) == 1 && bytes.Equal(parts[0], body) {
			return // malformed, or not a group
		}
		for _, p := range parts {
			if !jsontext.Value(p).IsValid() {
				return // Decode refuses it
			}
		}
		t.Fatalf("Split(%q) = %q, every part valid, but the body is not an array of objects", body, parts)
	})
}

// BenchmarkGroup: a busy commit's events, 30 transfers' and their copies
// for the search indexer.
func BenchmarkGroup(b *testing.B) {
	var recs []event.Record
	for range 30 {
		body := bytes.Repeat([]byte("x"), 520)
		recs = append(recs, event.Record{Payload: body}, event.Record{Payload: body, Queue: event.SearchQueue})
	}
	b.ReportAllocs()
	for b.Loop() {
		event.Group(recs)
	}
}
