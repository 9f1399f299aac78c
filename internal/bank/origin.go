package bank

import "context"

// Origin is where a request came from, as an audit record tells it: the
// request's id and the client's address.
type Origin struct {
	RequestID string
	ClientIP  string
}

type originKey struct{}

// WithOrigin returns ctx carrying o. The HTTP edge sets it on every request.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries, or the zero Origin.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
