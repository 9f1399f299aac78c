package notification

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/queue"
)

// memQueue is a queue.Queue in memory with SQS's semantics, for the tests of
// this package: a received message is invisible for the visibility timeout
// and comes back unless deleted; a message received maxReceive times moves
// to the dead-letter queue on its next receive; Redrive sends DLQ messages
// back with new ids.
type memQueue struct {
	mu         *sync.Mutex
	visibility time.Duration
	maxReceive int
	msgs       *[]*memMsg // this queue's
	dead       *[]*memMsg // its dead-letter queue's; nil for a DLQ
	seq        *int
	sends      *int
}

type memMsg struct {
	id, receipt string
	body        []byte
	receives    int
	visibleAt   time.Time
	sentAt      time.Time
}

func newMemQueue(visibility time.Duration, maxReceive int) *memQueue {
	return &memQueue{mu: &sync.Mutex{}, visibility: visibility, maxReceive: maxReceive,
		msgs: &[]*memMsg{}, dead: &[]*memMsg{}, seq: new(int), sends: new(int)}
}

func (q *memQueue) Send(_ context.Context, bodies ...[]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range bodies {
		*q.seq++
		*q.sends++
		*q.msgs = append(*q.msgs, &memMsg{id: fmt.Sprintf("m%d", *q.seq), body: append([]byte(nil), b...), sentAt: time.Now()})
	}
	return nil
}

func (q *memQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	deadline := time.Now().Add(wait)
	for {
		if out := q.take(max); len(out) > 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (q *memQueue) take(max int) []queue.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var out []queue.Message
	kept := (*q.msgs)[:0]
	for _, m := range *q.msgs {
		if len(out) == max || m.visibleAt.After(now) {
			kept = append(kept, m)
			continue
		}
		if q.dead != nil && q.maxReceive > 0 && m.receives >= q.maxReceive {
			m.receives, m.visibleAt = 0, time.Time{}
			*q.dead = append(*q.dead, m)
			continue
		}
		*q.seq++
		m.receives++
		m.receipt = fmt.Sprintf("r%d", *q.seq)
		m.visibleAt = now.Add(q.visibility)
		out = append(out, queue.Message{ID: m.id, Body: m.body, Receipt: m.receipt, ReceiveCount: m.receives, SentAt: m.sentAt})
		kept = append(kept, m)
	}
	*q.msgs = kept
	return out
}

func (q *memQueue) Delete(_ context.Context, receipts ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
next:
	for _, receipt := range receipts {
		for i, m := range *q.msgs {
			if m.receipt == receipt {
				*q.msgs = append((*q.msgs)[:i], (*q.msgs)[i+1:]...)
				continue next
			}
		}
		err = queue.ErrUnknownReceipt
	}
	return err
}

func (q *memQueue) ChangeVisibility(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range *q.msgs {
		if m.receipt == receipt {
			m.visibleAt = time.Now().Add(d)
			return nil
		}
	}
	return queue.ErrUnknownReceipt
}

func (q *memQueue) Stats(context.Context) (queue.Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var s queue.Stats
	now := time.Now()
	for _, m := range *q.msgs {
		if m.visibleAt.After(now) {
			s.Main.InFlight++
		} else {
			s.Main.Visible++
		}
	}
	if q.dead != nil {
		s.DLQ.Visible = int64(len(*q.dead))
	}
	return s, nil
}

func (q *memQueue) Purge(_ context.Context, which queue.Which) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if which == queue.DLQ {
		*q.dead = (*q.dead)[:0]
	} else {
		*q.msgs = (*q.msgs)[:0]
	}
	return nil
}

func (q *memQueue) Redrive(_ context.Context, max int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for len(*q.dead) > 0 && (max <= 0 || n < max) {
		m := (*q.dead)[0]
		*q.dead = (*q.dead)[1:]
		*q.seq++
		*q.msgs = append(*q.msgs, &memMsg{id: fmt.Sprintf("m%d", *q.seq), body: m.body, sentAt: time.Now()})
		n++
	}
	return n, nil
}

func (q *memQueue) SetVisibilityTimeout(_ context.Context, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.visibility = d
	return nil
}

var _ queue.Queue = (*memQueue)(nil)
