package queue

import "context"

// Step runs one step of r: take or renew the lease and, holding it, publish
// one batch.
func (r *Relay) Step(ctx context.Context) (int, bool, error) { return r.step(ctx) }
