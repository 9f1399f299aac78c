package notification

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/event"
	"github.com/fintech-banking/bank/internal/queue"
	"github.com/fintech-banking/bank/internal/store"
)

// Run consumes q until ctx ends, with Config.Workers receive loops. A
// receive that fails is retried after a pause; it never stops the loops.
//
// What each message gets:
//   - an event of a known type: delivered to each recipient on each channel
//     they chose, then deleted — only when every delivery is done. A failed
//     delivery leaves the message to come back after the visibility timeout
//     and, after maxReceiveCount, to move to the dead-letter queue.
//   - an event of a type no user is told about, or of an unknown type:
//     deleted, logged and counted. An unknown type must not block the queue.
//   - a body that is not an event (not JSON, no event_id or type, a known
//     type without the fields it needs): logged, counted and left undeleted,
//     so it ends in the dead-letter queue. A bank does not throw away what it
//     cannot read: an operator looks at it there, and a fixed consumer reads
//     it after a redrive.
func (s *Service) Run(ctx context.Context, q queue.Queue) error {
	s.lastReceive.Store(s.now().UnixNano())
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.loop(ctx, q) })
	}
	wg.Wait()
	return nil
}

// linger is how long a receive loop of the table queue waits after a batch
// that was not full: at most this much is added to a notification's delay.
const linger = 50 * time.Millisecond

func (s *Service) loop(ctx context.Context, q queue.Queue) {
	pause := 100 * time.Millisecond
	// On a queue that can consume in place (the table queue), the deliveries
	// an event needs that send nothing are recorded in the transaction that
	// deletes its message.
	tq, inPlace := q.(queue.Taker)
	// Deliveries consumed in place are recorded fresh (recordLogged): a
	// delivery recorded before, of an event sent again or redriven after a
	// partial delivery, fails the take whole, which is then run once more
	// skipping what is recorded.
	fresh := true
	// A receive takes up to Batch events (its budget) while it consumes
	// them in place, but no more than sendsAtOnce after one that had
	// deliveries to send: those are received and handled within
	// MessageTimeout, which a slow mail server would not give hundreds of
	// them. A receive asks for messages, as many as the budget's events
	// would fill at per events a message: what the last receive that found
	// some saw (a group holds a commit's, event.Group), the most a message
	// can hold before that. A receive with events to send takes no more
	// than the budget's (consumeInPlace).
	small := min(s.cfg.Batch, sendsAtOnce)
	budget, per := small, float64(event.GroupMax)
	for ctx.Err() == nil {
		var (
			msgs  []queue.Message
			err   error
			done  *batch
			asked = max(1, int(float64(budget)/per))
			// The messages the queue had for this receive, and those
			// of them it took (the budget may leave some).
			offered, took int
		)
		if inPlace {
			msgs, err = tq.Take(ctx, asked, s.cfg.Wait, func(ctx context.Context, ms []queue.Message) ([]bool, func(context.Context, *sql.Tx, []bool) error, error) {
				var (
					consume []bool
					write   func(context.Context, *sql.Tx, []bool) error
				)
				done, consume, write = s.consumeInPlace(ctx, ms, fresh, budget)
				offered, took = len(ms), len(consume)
				return consume, write, nil
			})
			if err != nil && fresh && store.IsUniqueViolation(err) {
				fresh = false
				continue
			}
			if err == nil && (len(msgs) > 0 || done != nil && len(done.works) > 0) {
				fresh = true
			}
			if err == nil {
				budget = s.cfg.Batch
				if len(msgs) > 0 {
					budget = small
				}
				if n := len(msgs); done != nil && n+len(done.of) > 0 {
					per = float64(done.events) / float64(n+len(done.of))
				}
			}
		} else {
			msgs, err = q.Receive(ctx, s.cfg.Batch, s.cfg.Wait)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.metrics.receiveFailed()
			s.log.Warn("notification: receive failed", "err", err, "retry_in", pause.String())
			wait := s.cfg.Clock
			if wait == nil {
				wait = clock.Real()
			}
			if clock.Sleep(ctx, wait, pause) != nil {
				return
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 100 * time.Millisecond
		s.lastReceive.Store(s.now().UnixNano())
		if done != nil {
			s.report(done)
		}
		if inPlace && offered > 0 && offered < asked && took == offered {
			// A batch that was not full: let the next one fill a little.
			// Under load every batch is then full, and the consumer's cost
			// per event falls as the ledger's rate rises.
			t := time.NewTimer(linger)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if len(msgs) == 0 {
			continue
		}
		// A batch begun is finished even when the consumer is told to stop:
		// a delivery cut off after the receiver took it would be sent
		// again. MessageTimeout bounds it, under the visibility timeout.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.MessageTimeout)
		s.HandleBatch(hctx, q, msgs)
		cancel()
	}
}

// Check reports the consumer DOWN when no receive has answered for two
// long polls and half a minute: the queue cannot be reached, and events
// wait (in the queue, or in the outbox) until it can. It is for
// /actuator/health, not readiness: the API serves all the same.
func (s *Service) Check(context.Context) error {
	last := s.lastReceive.Load()
	if last == 0 {
		return errors.New("the consumer is not running")
	}
	if since := s.now().Sub(time.Unix(0, last)); since > 2*s.cfg.Wait+30*time.Second {
		return fmt.Errorf("no receive from the queue has answered for %s", since.Round(time.Second))
	}
	return nil
}

// Handle processes one received message and deletes it when it is done
// with it (see Run). It reports the outcome it counted.
func (s *Service) Handle(ctx context.Context, q queue.Queue, m queue.Message) string {
	return s.HandleBatch(ctx, q, []queue.Message{m})[0]
}

// work is one event of a batch: its body, the messages that hold it (copies
// of one event, as an at-least-once relay sends some twice, are handled
// once), what it says and to whom, and how it ends.
type work struct {
	msgs       []queue.Message
	body       []byte // the event's: the message's body, or one element of a group
	e          *notice
	sp         spec
	recipients []string
	outcome    string
	err        error // why it is malformed
	sends      bool  // it has deliveries that leave the process
}

// logger is the log of w's event.
func (w *work) logger(base *slog.Logger) *slog.Logger {
	m := w.msgs[0]
	if w.e == nil {
		return base.With("message_id", m.ID, "receive_count", m.ReceiveCount, "bytes", len(w.body))
	}
	return base.With("event_id", w.e.EventID, "type", w.e.Type, "message_id", m.ID, "receive_count", m.ReceiveCount)
}

// batch is one receive's events and the deliveries they need.
type batch struct {
	works    []*work
	of       [][]*work  // the events of each message, in its order
	events   int        // consumeInPlace: the events of every message it looked at
	logged   []delivery // on log-only channels: recorded, nothing sent
	loggedBy []*work
	out      []outgoing // leaving the process
	failed   map[*work]bool
}

// sendsAtOnce bounds the deliveries of one batch that are on their way at
// once: a batch of hundreds of events must not open a connection to the
// mail server or to a webhook's host for each of them.
const sendsAtOnce = 100

// HandleBatch processes one receive's messages together and deletes, in one
// call, those it is done with (see Run); it reports each message's outcome,
// in order. Recipients and their preferences are read in one query each,
// deliveries on log-only channels are recorded in one statement, and
// deliveries that leave the process go side by side (sendsAtOnce at most),
// each claimed and recorded on its own so that none goes out twice.
func (s *Service) HandleBatch(ctx context.Context, q queue.Queue, msgs []queue.Message) []string {
	b := s.plan(ctx, msgs)
	if err := s.recordLogged(ctx, s.db, b.logged, false); err != nil {
		s.log.Warn("notification: log-only deliveries not recorded", "deliveries", len(b.logged), "err", err)
		for _, w := range b.loggedBy {
			b.failed[w] = true
		}
		b.logged = nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sending := make(chan struct{}, sendsAtOnce)
	for _, o := range b.out {
		sending <- struct{}{}
		wg.Go(func() {
			defer func() { <-sending }()
			if !s.deliver(ctx, o.w.logger(s.log), o.w.e, o.w.sp, o.recipient, o.ch, o.to, o.secret, o.msg) {
				mu.Lock()
				b.failed[o.w] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.settle()

	// A message is done, and deleted, when all its events are. A group
	// some of whose events are done keeps the others alone (on a queue that
	// can rewrite a message): they come back, and in the end go to the
	// dead-letter queue, without the events that were delivered.
	var receipts []string
	out := make([]string, len(msgs))
	rq, rewrites := q.(queue.Rewriter)
	for i, m := range msgs {
		var rest [][]byte
		out[i] = b.of[i][0].outcome
		for _, w := range b.of[i] {
			if !finished(w.outcome) {
				rest = append(rest, w.body)
				if finished(out[i]) {
					out[i] = w.outcome
				}
			}
		}
		switch {
		case len(rest) == 0:
			if len(b.of[i]) > 1 {
				out[i] = "delivered"
			}
			receipts = append(receipts, m.Receipt)
		case rewrites && len(rest) < len(b.of[i]):
			if err := rq.Rewrite(ctx, m.Receipt, event.Join(rest...)); err != nil {
				s.log.Warn("notification: a group's events not done not kept alone; the whole group comes back", "message_id", m.ID, "err", err)
			}
		}
	}
	if len(receipts) > 0 {
		if err := q.Delete(ctx, receipts...); err != nil {
			// What was not deleted comes back; its deliveries are
			// recorded, so it will only be deleted then.
			s.log.Warn("notification: delete failed", "messages", len(receipts), "err", err)
		}
	}
	s.report(b)
	return out
}

// finished says whether an event with outcome needs nothing more: its
// message may be deleted.
func finished(outcome string) bool {
	return outcome == "delivered" || outcome == "ignored" || outcome == "unknown_type"
}

// consumeInPlace is the table queue's TakeFunc: it says which of msgs can
// be consumed in place — events that need nothing sent: an ignored or
// unknown type, or deliveries on log-only channels alone — and returns the
// write that records those deliveries in the transaction that deletes their
// messages. Events with deliveries to send, and what it cannot read, are
// left to be received and handled by HandleBatch. It logs and counts
// nothing: the transaction may be rolled back and all of it run again. The
// batch it returns is what was consumed once the write ran; the caller
// reports it after the commit.
func (s *Service) consumeInPlace(ctx context.Context, msgs []queue.Message, fresh bool, budget int) (*batch, []bool, func(context.Context, *sql.Tx, []bool) error) {
	b := s.plan(ctx, msgs)
	// A message is consumed in place when every event it holds can be.
	consume := make([]bool, len(msgs))
	for i := range consume {
		consume[i] = !slices.ContainsFunc(b.of[i], func(w *work) bool {
			return w.outcome != "ignored" && w.outcome != "unknown_type" && (w.outcome != "" || w.sends || b.failed[w])
		})
	}
	if slices.Contains(consume, false) {
		// Some are received, to be sent within MessageTimeout: no more
		// than budget events in all, the first message always; the
		// messages after are left for the next receive.
		events, n := 0, 0
		for n < len(msgs) && (n == 0 || events+len(b.of[n]) <= budget) {
			events += len(b.of[n])
			n++
		}
		consume = consume[:n]
	}
	done := &batch{failed: map[*work]bool{}}
	for _, ws := range b.of[:len(consume)] {
		done.events += len(ws)
	}
	write := func(ctx context.Context, tx *sql.Tx, taken []bool) error {
		// A work is consumed with any of its copies: a copy another
		// receive had first is its to handle, and records nothing twice.
		consumed := map[*work]bool{}
		done.works, done.of = done.works[:0], done.of[:0]
		for i, m := range msgs[:len(taken)] {
			if !taken[i] || !consume[i] {
				continue
			}
			done.of = append(done.of, b.of[i])
			for _, w := range b.of[i] {
				if !consumed[w] {
					consumed[w] = true
					done.works = append(done.works, w)
					w.msgs = w.msgs[:0:0]
				}
				w.msgs = append(w.msgs, m) // the copies this take consumed
			}
		}
		done.logged = done.logged[:0]
		for i, d := range b.logged {
			if consumed[b.loggedBy[i]] {
				done.logged = append(done.logged, d)
			}
		}
		for _, w := range done.works {
			if w.outcome == "" {
				w.outcome = "delivered"
			}
		}
		return s.recordLogged(ctx, tx, done.logged, fresh)
	}
	return done, consume, write
}

// group reads the events of msgs, a group's one by one (event.Split):
// copies of one event (an at-least-once relay sends some twice) are one
// work, classified by its first copy. A message that is a broken group is
// one malformed work. The events of msgs[i] are of[i].
func (s *Service) group(msgs []queue.Message) ([]*work, [][]*work) {
	var works []*work
	of := make([][]*work, len(msgs))
	byEvent := map[string]*work{}
	for i, m := range msgs {
		bodies, err := event.Split(m.Body)
		if err != nil {
			w := &work{msgs: []queue.Message{m}, body: m.Body, outcome: "malformed", err: err}
			works, of[i] = append(works, w), []*work{w}
			continue
		}
		for _, body := range bodies {
			w := &work{msgs: []queue.Message{m}, body: body}
			s.classify(w)
			if w.e != nil {
				if first, ok := byEvent[w.e.EventID]; ok {
					if !slices.Contains(of[i], first) { // not twice in one group
						first.msgs, of[i] = append(first.msgs, m), append(of[i], first)
					}
					continue
				}
				byEvent[w.e.EventID] = w
			}
			works, of[i] = append(works, w), append(of[i], w)
		}
	}
	return works, of
}

// report logs and counts a handled batch, once.
func (s *Service) report(b *batch) {
	for _, w := range b.works {
		switch w.outcome {
		case "malformed":
			if w.e == nil {
				w.logger(s.log).Error("notification: malformed message left for the dead-letter queue", "err", w.err)
			} else {
				w.logger(s.log).Error("notification: malformed event left for the dead-letter queue", "err", w.err)
			}
		case "unknown_type":
			w.logger(s.log).Warn("notification: unknown event type acknowledged")
		case "delivered":
			s.metrics.eventAge(s.now().Sub(w.e.OccurredAt))
		}
		for range w.msgs {
			s.metrics.receivedOne()
			s.metrics.processedOne(w.outcome)
		}
	}
	for _, d := range b.logged {
		s.metrics.delivered(d.channel, StatusLogged, 0)
		s.log.Info("notification: "+string(d.channel)+" (log-only)", "event_id", d.eventID, "user_id", d.userID, "subject", d.subject)
	}
}

// classify reads w's event and decides what it needs: nothing (malformed,
// ignored, unknown), or deliveries to its recipients (outcome still empty).
func (s *Service) classify(w *work) {
	e, err := decodeEvent(w.body)
	if err != nil {
		w.outcome, w.err = "malformed", err
		return
	}
	w.e = e
	sp, ok := s.specs[e.Type]
	if !ok {
		if slices.Contains(quiet, e.Type) {
			w.outcome = "ignored"
			return
		}
		w.outcome = "unknown_type"
		return
	}
	w.sp = sp
	if w.recipients, err = sp.recipients(e); err != nil {
		w.outcome, w.err = "malformed", err
	}
}

// outgoing is one delivery that leaves the process.
type outgoing struct {
	w         *work
	recipient string
	ch        Channel
	to        string
	secret    string
	msg       message
	logOnly   bool // recorded, not sent: the channel has nothing configured
}

// plan reads the events of msgs and their recipients and preferences, in
// one query each, and sorts every delivery they need into logged and out.
// A work whose recipients cannot be read, or whose message cannot be
// rendered, is failed.
func (s *Service) plan(ctx context.Context, msgs []queue.Message) *batch {
	works, of := s.group(msgs)
	b := &batch{works: works, of: of, failed: map[*work]bool{}}
	var ids []string
	for _, w := range works {
		if w.outcome == "" {
			for _, r := range w.recipients {
				if !slices.Contains(ids, r) {
					ids = append(ids, r)
				}
			}
		}
	}
	if len(ids) == 0 {
		return b
	}
	lookupCtx, cancel := context.WithTimeout(ctx, dbTimeout)
	contacts, err := s.users.Lookup(lookupCtx, ids)
	cancel()
	var prefs map[string]Preferences
	if err == nil {
		prefs, err = s.preferencesOf(ctx, ids)
	}
	for _, w := range works {
		if w.outcome != "" {
			continue
		}
		if err != nil {
			w.logger(s.log).Warn("notification: recipients unreadable", "err", err)
			b.failed[w] = true
			continue
		}
		for _, r := range w.recipients {
			c, found := contacts[r]
			if !found {
				w.logger(s.log).Info("notification: recipient does not exist; nothing sent", "user_id", r)
				continue
			}
			p := prefs[r]
			var (
				chosen   []outgoing
				withText bool
			)
			for _, ch := range channels {
				o := outgoing{w: w, recipient: r, ch: ch, secret: p.webhookSecret}
				switch {
				case ch == Email && p.Email:
					o.to = c.Email
				case ch == SMS && p.SMS:
					o.to = p.Phone
				case ch == Webhook && p.WebhookURL != "":
					o.to = p.WebhookURL
				default:
					continue
				}
				o.logOnly = (ch == Email && s.mail == nil) || (ch == SMS && s.sms == nil && o.to != "")
				withText = withText || !o.logOnly
				chosen = append(chosen, o)
			}
			if len(chosen) == 0 {
				continue
			}
			msg, err := s.tmpl.render(w.e, r, c.Name, withText)
			if err != nil {
				// A template that cannot render this event is a bug here,
				// not in the event: leave the message for the dead-letter
				// queue.
				w.logger(s.log).Error("notification: template failed", "err", err)
				b.failed[w] = true
				continue
			}
			for _, o := range chosen {
				if o.logOnly {
					b.logged = append(b.logged, delivery{eventID: w.e.EventID, eventType: w.e.Type, userID: r, channel: o.ch, subject: msg.Subject})
					b.loggedBy = append(b.loggedBy, w)
					continue
				}
				o.msg = msg
				w.sends = true
				b.out = append(b.out, o)
			}
		}
	}
	return b
}

// settle gives every work still open its outcome: delivered when every one
// of its deliveries is done, else retry.
func (b *batch) settle() {
	for _, w := range b.works {
		switch {
		case w.outcome != "":
		case b.failed[w]:
			w.outcome = "retry"
		default:
			w.outcome = "delivered"
		}
	}
}

// deliver sends one delivery unless it was sent already, and reports
// whether it is done.
func (s *Service) deliver(ctx context.Context, log *slog.Logger, e *notice, sp spec, recipient string, ch Channel, to, secret string, msg message) bool {
	start := time.Now()
	d := delivery{eventID: e.EventID, eventType: e.Type, userID: recipient, channel: ch, subject: msg.Subject}
	id, state, err := s.claim(ctx, d)
	switch {
	case err != nil:
		log.Warn("notification: claim failed", "channel", ch, "user_id", recipient, "err", err)
		return false
	case state == done:
		s.metrics.delivered(ch, "duplicate", 0)
		return true
	case state == busy:
		s.metrics.delivered(ch, "busy", 0)
		return false
	}
	status := StatusSent
	switch ch {
	case Email:
		if s.mail == nil {
			status = StatusLogged
			log.Info("notification: email (log-only)", "notification_id", id, "user_id", recipient, "subject", msg.Subject)
		} else {
			err = s.mail.send(ctx, to, id, msg)
		}
	case SMS:
		switch {
		case to == "":
			err = errors.New("no phone number")
		case s.sms == nil:
			status = StatusLogged
			log.Info("notification: sms (log-only)", "notification_id", id, "user_id", recipient, "subject", msg.Subject)
		default:
			err = s.sms.send(ctx, to, id, msg.Subject)
		}
	case Webhook:
		body, merr := json.Marshal(map[string]any{"id": id, "event_id": e.EventID, "type": e.Type,
			"occurred_at": e.OccurredAt, "subject": msg.Subject, "text": msg.Text, "data": sp.data(e, recipient)})
		if merr != nil {
			err = fmt.Errorf("encode webhook: %w", merr)
		} else {
			err = s.webhooks.post(ctx, to, secret, id, body)
		}
	}
	took := time.Since(start)
	if ferr := s.finish(ctx, d, err, status); ferr != nil {
		// Sent but not recorded: it may be sent again (see the package
		// comment). Not done, so the message stays.
		log.Error("notification: delivery not recorded", "notification_id", id, "err", ferr)
		return false
	}
	if err != nil {
		s.metrics.delivered(ch, "failed", took)
		log.Warn("notification: delivery failed", "notification_id", id, "channel", ch, "user_id", recipient, "err", err)
		return false
	}
	s.metrics.delivered(ch, status, took)
	return true
}
