package event

import (
	"bytes"
	"fmt"
	"slices"
)

// GroupMax bounds the events of one message.
const GroupMax = 50

// Group returns the messages that carry recs: the events of one queue that
// commit together travel in one message, up to GroupMax of them, as a JSON
// array of their bodies, in order; an event alone travels as its body, as
// every message did before groups.
//
// One message instead of one per event is what makes a busy ledger's events
// cheap to keep and to consume: one row, one key entry, one lock and one
// delete for a commit's events, and the database compresses a group (the
// bodies of one commit share most of their names and ids; a body alone
// does not compress). A consumer reads a message with Split.
func Group(recs []Record) []Record {
	if len(recs) < 2 {
		return recs
	}
	// The events of each message first, then each body (Join makes it at
	// its size: this runs in the ledger's commit).
	var (
		out     []Record
		members [][]int  // indices in recs of out[i]'s events
		open    []string // the queue of out[i]
	)
	for i, r := range recs {
		q := r.QueueName()
		m := slices.Index(open, q)
		if m < 0 || len(members[m]) == GroupMax {
			if m >= 0 {
				open[m] = "" // full: the queue's next events start a message
			}
			m = len(out)
			out, members, open = append(out, r), append(members, nil), append(open, q)
		}
		members[m] = append(members[m], i)
	}
	for m, idx := range members {
		if len(idx) > 1 {
			bodies := make([][]byte, len(idx))
			for k, i := range idx {
				bodies[k] = recs[i].Payload
			}
			out[m].Payload, out[m].Events = Join(bodies...), len(idx)
		}
	}
	return out
}

// Join returns the body of a message that holds events: an event alone is
// its body, several are a group, a JSON array of their bodies.
func Join(events ...[]byte) []byte {
	if len(events) == 1 {
		return events[0]
	}
	n := len(events) + 1 // the brackets and commas
	for _, e := range events {
		n += len(e)
	}
	body, sep := make([]byte, 0, n), byte('[')
	for _, e := range events {
		body, sep = append(append(body, sep), e...), ','
	}
	return append(body, ']')
}

// Split returns the events of a message body: the events of a group (see
// Group), or the body itself when it is not an array. It checks the
// array's frame alone: each element it returns is a JSON object as far as
// its brackets tell, to be decoded (and so validated) by Decode. A body
// that starts as an array and is not one, or holds no event, or an element
// that is not an object, is malformed: the message goes to the dead-letter
// queue whole.
func Split(body []byte) ([][]byte, error) {
	rest := bytes.TrimLeft(body, " \t\r\n")
	if len(rest) == 0 || rest[0] != '[' {
		return [][]byte{body}, nil
	}
	var events [][]byte
	i := 1
	for {
		i = skipSpace(rest, i)
		if i == len(rest) || rest[i] != '{' {
			return nil, fmt.Errorf("%w: element %d of a group is not an event", ErrMalformed, len(events))
		}
		end, ok := objectEnd(rest, i)
		if !ok {
			return nil, fmt.Errorf("%w: element %d of a group does not end", ErrMalformed, len(events))
		}
		events = append(events, rest[i:end])
		i = skipSpace(rest, end)
		if i < len(rest) && rest[i] == ',' {
			i++
			continue
		}
		if i == len(rest) || rest[i] != ']' || skipSpace(rest, i+1) != len(rest) {
			return nil, fmt.Errorf("%w: a group's array does not end after element %d", ErrMalformed, len(events)-1)
		}
		return events, nil
	}
}

// objectEnd returns the index just past the object that opens at b[start],
// following strings and nesting alone, and whether it closes.
func objectEnd(b []byte, start int) (int, bool) {
	depth := 0
	for i := start; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
