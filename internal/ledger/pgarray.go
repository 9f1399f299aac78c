package ledger

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"
)

// The write path sends every column of a batch as one array parameter.
// pgx's generic array encoder boxes each element in an interface and plans
// its encoding, which was a tenth of the server's CPU per transfer; the
// arrays here are one-dimensional slices of a few known types, so the writer's
// connection encodes them straight into PostgreSQL's binary array format.

// registerArrays makes m encode the write path's slices directly.
func registerArrays(m *pgtype.Map) {
	for _, oid := range []uint32{pgtype.TextArrayOID, pgtype.Int8ArrayOID, pgtype.Int4ArrayOID, pgtype.ByteaArrayOID} {
		if t, ok := m.TypeForOID(oid); ok {
			m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: flatArrays{t.Codec}})
		}
	}
}

// flatArrays is an array type's codec that encodes the write path's slices
// itself and leaves everything else to the codec it wraps.
type flatArrays struct{ pgtype.Codec }

func (c flatArrays) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch {
		case oid == pgtype.TextArrayOID:
			switch value.(type) {
			case []string:
				return encodeFunc(encodeStrings)
			case []*string:
				return encodeFunc(encodeNullableStrings)
			}
		case oid == pgtype.Int8ArrayOID:
			if _, ok := value.([]int64); ok {
				return encodeFunc(encodeInt64s)
			}
		case oid == pgtype.Int4ArrayOID:
			if _, ok := value.([]int32); ok {
				return encodeFunc(encodeInt32s)
			}
		case oid == pgtype.ByteaArrayOID:
			if _, ok := value.([][]byte); ok {
				return encodeFunc(encodeByteSlices)
			}
		}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

type encodeFunc func(value any, buf []byte) ([]byte, error)

func (f encodeFunc) Encode(value any, buf []byte) ([]byte, error) { return f(value, buf) }

// arrayHeader appends the header of a one-dimensional array of n elements of
// type elem, numbered from 1 (an empty one too, as pgx writes it).
func arrayHeader(buf []byte, n int, elem uint32, nulls bool) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 1)
	var hasNull uint32
	if nulls {
		hasNull = 1
	}
	buf = binary.BigEndian.AppendUint32(buf, hasNull)
	buf = binary.BigEndian.AppendUint32(buf, elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	return binary.BigEndian.AppendUint32(buf, 1)
}

// appendElement appends one element's length and bytes.
func appendElement[T string | []byte](buf []byte, v T) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
	return append(buf, v...)
}

func encodeStrings(value any, buf []byte) ([]byte, error) {
	vs := value.([]string)
	if vs == nil {
		return nil, nil
	}
	size := 20 + 4*len(vs)
	for _, v := range vs {
		size += len(v)
	}
	buf = arrayHeader(slices.Grow(buf, size), len(vs), pgtype.TextOID, false)
	for _, v := range vs {
		buf = appendElement(buf, v)
	}
	return buf, nil
}

func encodeNullableStrings(value any, buf []byte) ([]byte, error) {
	vs := value.([]*string)
	if vs == nil {
		return nil, nil
	}
	nulls := false
	for _, v := range vs {
		nulls = nulls || v == nil
	}
	buf = arrayHeader(buf, len(vs), pgtype.TextOID, nulls)
	for _, v := range vs {
		if v == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1: NULL
			continue
		}
		buf = appendElement(buf, *v)
	}
	return buf, nil
}

func encodeByteSlices(value any, buf []byte) ([]byte, error) {
	vs := value.([][]byte)
	if vs == nil {
		return nil, nil
	}
	nulls, size := false, 20+4*len(vs)
	for _, v := range vs {
		nulls, size = nulls || v == nil, size+len(v)
	}
	buf = arrayHeader(slices.Grow(buf, size), len(vs), pgtype.ByteaOID, nulls)
	for _, v := range vs {
		if v == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
			continue
		}
		buf = appendElement(buf, v)
	}
	return buf, nil
}

func encodeInt64s(value any, buf []byte) ([]byte, error) {
	vs := value.([]int64)
	if vs == nil {
		return nil, nil
	}
	buf = arrayHeader(slices.Grow(buf, 20+12*len(vs)), len(vs), pgtype.Int8OID, false)
	for _, v := range vs {
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, uint64(v))
	}
	return buf, nil
}

func encodeInt32s(value any, buf []byte) ([]byte, error) {
	vs := value.([]int32)
	if vs == nil {
		return nil, nil
	}
	buf = arrayHeader(buf, len(vs), pgtype.Int4OID, false)
	for _, v := range vs {
		buf = binary.BigEndian.AppendUint32(buf, 4)
		buf = binary.BigEndian.AppendUint32(buf, uint32(v))
	}
	return buf, nil
}
