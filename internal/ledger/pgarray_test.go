package ledger

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestArraysEncodeAsPgx holds the write path's array encoders to the bytes
// pgx's own encoder writes for the same values.
func TestArraysEncodeAsPgx(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	cases := []struct {
		oid   uint32
		value any
	}{
		{pgtype.TextArrayOID, []string{"a", "", "é日本🙂", "0197d0c4-8d7e-7f00-8000-000000000000"}},
		{pgtype.TextArrayOID, []string{}},
		{pgtype.TextArrayOID, []string(nil)},
		{pgtype.TextArrayOID, []*string{s("x"), nil, s("")}},
		{pgtype.TextArrayOID, []*string{s("x")}},
		{pgtype.TextArrayOID, []*string{nil}},
		{pgtype.Int8ArrayOID, []int64{0, -1, 1 << 62, -1 << 63}},
		{pgtype.Int8ArrayOID, []int64{}},
		{pgtype.Int4ArrayOID, []int32{201, 422, -7}},
		{pgtype.ByteaArrayOID, [][]byte{[]byte(`{"id":"x"}`), {}, nil, {0, 255}}},
		{pgtype.ByteaArrayOID, [][]byte{[]byte("y")}},
	}
	plain, fast := pgtype.NewMap(), pgtype.NewMap()
	registerArrays(fast)
	for _, c := range cases {
		want, err := plain.Encode(c.oid, pgtype.BinaryFormatCode, c.value, nil)
		if err != nil {
			t.Fatalf("pgx %T: %v", c.value, err)
		}
		if _, ok := fast.PlanEncode(c.oid, pgtype.BinaryFormatCode, c.value).(encodeFunc); !ok {
			t.Errorf("%T for oid %d: not encoded by the write path's encoder", c.value, c.oid)
		}
		got, err := fast.Encode(c.oid, pgtype.BinaryFormatCode, c.value, nil)
		if err != nil {
			t.Fatalf("%T: %v", c.value, err)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%T %v:\n got % x\nwant % x", c.value, c.value, got, want)
		}
	}
}
