package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 100 * time.Millisecond
		s.lastReceive.Store(s.now().UnixNano())
		// The messages of one receive are handled side by side: they share
		// one visibility timeout, which their sum could outlast. Copies of
		// one event (an at-least-once relay sends some twice) go in turn, so
		// the second finds the first's deliveries done instead of busy.
		var wg sync.WaitGroup
		for _, group := range byEvent(msgs) {
			// A message begun is finished even when the consumer is told to
			// stop: a delivery cut off after the receiver took it would be
			// sent again. MessageTimeout bounds it, under the visibility
			// timeout.
			wg.Go(func() {
				for _, m := range group {
					hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.MessageTimeout)
					s.Handle(hctx, q, m)
					cancel()
				}
			})
		}
		wg.Wait()
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

// byEvent groups msgs by their event id, in order; a body without one is a
// group of its own.
func byEvent(msgs []queue.Message) [][]queue.Message {
	var groups [][]queue.Message
	index := map[string]int{}
	for _, m := range msgs {
		var h struct {
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(m.Body, &h) != nil || h.EventID == "" {
			groups = append(groups, []queue.Message{m})
			continue
		}
		if i, ok := index[h.EventID]; ok {
			groups[i] = append(groups[i], m)
			continue
		}
		index[h.EventID] = len(groups)
		groups = append(groups, []queue.Message{m})
	}
	return groups
}

// Handle processes one received message and deletes it when it is done
// with it (see Run). It reports the outcome it counted.
func (s *Service) Handle(ctx context.Context, q queue.Queue, m queue.Message) string {
	s.metrics.receivedOne()
	outcome := s.process(ctx, m)
	s.metrics.processedOne(outcome)
	switch outcome {
	case "delivered", "ignored", "unknown_type":
		if err := q.Delete(ctx, m.Receipt); err != nil {
			// The message comes back; its deliveries are recorded, so it
			// will only be deleted then.
			s.log.Warn("notification: delete failed", "message_id", m.ID, "err", err)
		}
	}
	return outcome
}

func (s *Service) process(ctx context.Context, m queue.Message) string {
	e, err := decodeEvent(m.Body)
	if err != nil {
		s.log.Error("notification: malformed message left for the dead-letter queue", "message_id", m.ID,
			"receive_count", m.ReceiveCount, "bytes", len(m.Body), "err", err)
		return "malformed"
	}
	log := s.log.With("event_id", e.EventID, "type", e.Type, "message_id", m.ID, "receive_count", m.ReceiveCount)
	sp, ok := s.specs[e.Type]
	if !ok {
		for _, t := range quiet {
			if t == e.Type {
				return "ignored"
			}
		}
		log.Warn("notification: unknown event type acknowledged")
		return "unknown_type"
	}
	recipients, err := sp.recipients(e)
	if err != nil {
		log.Error("notification: malformed event left for the dead-letter queue", "err", err)
		return "malformed"
	}
	complete := true
	for _, r := range recipients {
		if !s.notify(ctx, log, e, sp, r) {
			complete = false
		}
	}
	if !complete {
		return "retry"
	}
	s.metrics.eventAge(s.now().Sub(e.OccurredAt))
	return "delivered"
}

// notify delivers e to recipient on each channel they chose, and reports
// whether every delivery is done.
func (s *Service) notify(ctx context.Context, log *slog.Logger, e *notice, sp spec, recipient string) bool {
	c, found, err := s.users.Lookup(ctx, recipient)
	if err != nil {
		log.Warn("notification: recipient lookup failed", "user_id", recipient, "err", err)
		return false
	}
	if !found {
		log.Info("notification: recipient does not exist; nothing sent", "user_id", recipient)
		return true
	}
	p, err := s.preferences(ctx, recipient)
	if err != nil {
		log.Warn("notification: preferences unreadable", "user_id", recipient, "err", err)
		return false
	}
	msg, err := s.tmpl.render(e, recipient, c.Name)
	if err != nil {
		// A template that cannot render this event is a bug here, not in
		// the event: leave the message for the dead-letter queue.
		log.Error("notification: template failed", "err", err)
		return false
	}
	ok := true
	for _, ch := range []Channel{Email, SMS, Webhook} {
		var to string
		switch {
		case ch == Email && p.Email:
			to = c.Email
		case ch == SMS && p.SMS:
			to = p.Phone
		case ch == Webhook && p.WebhookURL != "":
			to = p.WebhookURL
		default:
			continue
		}
		if !s.deliver(ctx, log, e, sp, recipient, ch, to, p.webhookSecret, msg) {
			ok = false
		}
	}
	return ok
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
