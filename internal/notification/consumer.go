package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fintech-banking/bank/internal/clock"
	"github.com/fintech-banking/bank/internal/queue"
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

func (s *Service) loop(ctx context.Context, q queue.Queue) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := q.Receive(ctx, s.cfg.Batch, s.cfg.Wait)
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

// work is one event of a batch: its messages (copies of one event, as an
// at-least-once relay sends some twice, are handled once), what it says and
// to whom, and how it ends.
type work struct {
	msgs       []queue.Message
	e          *notice
	sp         spec
	recipients []string
	outcome    string
	log        *slog.Logger
}

// HandleBatch processes one receive's messages together and deletes, in one
// call, those it is done with (see Run); it reports each message's outcome,
// in order. Recipients and their preferences are read in one query each,
// deliveries on log-only channels are recorded in one statement, and
// deliveries that leave the process go side by side, each claimed and
// recorded on its own so that none goes out twice.
func (s *Service) HandleBatch(ctx context.Context, q queue.Queue, msgs []queue.Message) []string {
	// Copies of one event (an at-least-once relay sends some twice) are
	// one work, classified by its first copy.
	var works []*work
	byEvent := map[string]*work{}
	for _, m := range msgs {
		s.metrics.receivedOne()
		w := &work{msgs: []queue.Message{m}}
		s.classify(w)
		if w.e != nil {
			if first, ok := byEvent[w.e.EventID]; ok {
				first.msgs = append(first.msgs, m)
				continue
			}
			byEvent[w.e.EventID] = w
		}
		works = append(works, w)
	}
	s.deliverAll(ctx, works)

	var receipts []string
	outcomes := make(map[string]string, len(msgs))
	for _, w := range works {
		if w.outcome == "delivered" {
			s.metrics.eventAge(s.now().Sub(w.e.OccurredAt))
		}
		for _, m := range w.msgs {
			s.metrics.processedOne(w.outcome)
			outcomes[m.Receipt] = w.outcome
			switch w.outcome {
			case "delivered", "ignored", "unknown_type":
				receipts = append(receipts, m.Receipt)
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
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = outcomes[m.Receipt]
	}
	return out
}

// classify reads w's event and decides what it needs: nothing (malformed,
// ignored, unknown), or deliveries to its recipients (outcome still empty).
func (s *Service) classify(w *work) {
	m := w.msgs[0]
	e, err := decodeEvent(m.Body)
	if err != nil {
		s.log.Error("notification: malformed message left for the dead-letter queue", "message_id", m.ID,
			"receive_count", m.ReceiveCount, "bytes", len(m.Body), "err", err)
		w.outcome = "malformed"
		return
	}
	w.e = e
	w.log = s.log.With("event_id", e.EventID, "type", e.Type, "message_id", m.ID, "receive_count", m.ReceiveCount)
	sp, ok := s.specs[e.Type]
	if !ok {
		if slices.Contains(quiet, e.Type) {
			w.outcome = "ignored"
			return
		}
		w.log.Warn("notification: unknown event type acknowledged")
		w.outcome = "unknown_type"
		return
	}
	w.sp = sp
	if w.recipients, err = sp.recipients(e); err != nil {
		w.log.Error("notification: malformed event left for the dead-letter queue", "err", err)
		w.outcome = "malformed"
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
}

// deliverAll delivers every event of works that needs it and sets its
// outcome: delivered when every one of its deliveries is done, else retry.
func (s *Service) deliverAll(ctx context.Context, works []*work) {
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
	lookupCtx, cancel := context.WithTimeout(ctx, dbTimeout)
	contacts, err := s.users.Lookup(lookupCtx, ids)
	cancel()
	var prefs map[string]Preferences
	if err == nil {
		prefs, err = s.preferencesOf(ctx, ids)
	}
	failed := map[*work]bool{}
	var logged []delivery
	var loggedBy []*work
	var out []outgoing
	for _, w := range works {
		if w.outcome != "" {
			continue
		}
		if err != nil {
			w.log.Warn("notification: recipients unreadable", "err", err)
			failed[w] = true
			continue
		}
		for _, r := range w.recipients {
			c, found := contacts[r]
			if !found {
				w.log.Info("notification: recipient does not exist; nothing sent", "user_id", r)
				continue
			}
			p := prefs[r]
			msg, err := s.tmpl.render(w.e, r, c.Name)
			if err != nil {
				// A template that cannot render this event is a bug here,
				// not in the event: leave the message for the dead-letter
				// queue.
				w.log.Error("notification: template failed", "err", err)
				failed[w] = true
				continue
			}
			for _, ch := range []Channel{Email, SMS, Webhook} {
				o := outgoing{w: w, recipient: r, ch: ch, secret: p.webhookSecret, msg: msg}
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
				if (ch == Email && s.mail == nil) || (ch == SMS && s.sms == nil && o.to != "") {
					w.log.Info("notification: "+string(ch)+" (log-only)", "user_id", r, "subject", msg.Subject)
					logged = append(logged, delivery{eventID: w.e.EventID, eventType: w.e.Type, userID: r, channel: ch, subject: msg.Subject})
					loggedBy = append(loggedBy, w)
					continue
				}
				out = append(out, o)
			}
		}
	}
	if err := s.recordLogged(ctx, logged); err != nil {
		s.log.Warn("notification: log-only deliveries not recorded", "deliveries", len(logged), "err", err)
		for _, w := range loggedBy {
			failed[w] = true
		}
	} else {
		for _, d := range logged {
			s.metrics.delivered(d.channel, StatusLogged, 0)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, o := range out {
		wg.Go(func() {
			if !s.deliver(ctx, o.w.log, o.w.e, o.w.sp, o.recipient, o.ch, o.to, o.secret, o.msg) {
				mu.Lock()
				failed[o.w] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, w := range works {
		switch {
		case w.outcome != "":
		case failed[w]:
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
	id, state, err := s.claim(ctx, delivery{eventID: e.EventID, eventType: e.Type, userID: recipient, channel: ch, subject: msg.Subject})
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
	if ferr := s.finish(ctx, id, err, status); ferr != nil {
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
