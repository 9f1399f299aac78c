package queue

import (
	"strings"
	"testing"
)

func TestSQSText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, err string
	}{
		{`{"a":"b"}`, `{"a":"b"}`, ""},
		{"{\"a\":\"\ufffe\uffff\"}", `{"a":"\ufffe\uffff"}`, ""},
		{"héllo \x01", "", "U+0001"},
		{"é\ufffe not json", "", "U+FFFE"},
		{"\xff", "", "UTF-8"},
		{"", "", "empty"},
	} {
		got, err := sqsText([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("sqsText(%q): %v, want an error with %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("sqsText(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
