package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/carecheck/carecheck/bot/redact"
	"github.com/carecheck/carecheck/store"
)

// Person identifies whom a message is for, so that a "stopped" answer from
// the provider can be recorded against them.
type Person struct {
	Kind     string `json:"kind"` // "client" or "staff"
	ID       string `json:"id"`
	AgencyID string `json:"agency_id,omitempty"`
}

// Job is one message in the outbox: the message, how often it was tried, and
// what to do if it cannot be delivered.
type Job struct {
	Msg     Outbound `json:"msg"`
	Person  Person   `json:"person"`
	Attempt int      `json:"attempt,omitempty"`
	// Fallback is the same message on the person's other channel, sent when
	// this one fails for good.
	Fallback *Outbound `json:"fallback,omitempty"`
	// OnFail is work to start when every channel failed (an escalation
	// moves to its next step at once).
	OnFail *Work `json:"on_fail,omitempty"`
	// About is the escalation a staff alert is about ("" for any other
	// message): what becomes of each send of it, and of its fallback, is
	// reported to the outbox's Outcomes.
	About string `json:"about,omitempty"`
}

// Outcome is what became of one send of a message: the provider's answer
// to the send, or its later delivery report.
type Outcome struct {
	// Status is "sent" (Telegram's Bot API took the message), "placed" (a
	// voice call Twilio took: ringing), "error" (the provider refused the
	// send or gave no answer), or Twilio's final delivery report of an SMS:
	// "delivered", "undelivered" or "failed".
	Status string
	// Code is the provider's error code ("30003", "403"), "" for none.
	Code string
	// ProviderID is the provider's id of what was sent ("" after an error).
	ProviderID string
	// Attempt counts the sends of the message, from 1.
	Attempt int
}

// OutcomeReporter hears what became of messages about something
// (Job.About). The core implements it: an alert's outcomes go into its
// escalation's audit and the alert metrics. A voice call is reported placed
// or refused; its end comes by the call's own status webhook.
type OutcomeReporter interface {
	Outcome(ctx context.Context, j *Job, o Outcome) error
}

// Work is a piece of queued work, as the queue stores it.
type Work struct {
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// Routine reports whether the job is a routine message to a client (not
// urgent, not to staff): its send bookkeeping is kept for less time.
func (j *Job) Routine() bool { return !j.Msg.Urgent && j.Person.Kind == "client" }

// ErrSendInProgress means another worker is sending the same message now.
var ErrSendInProgress = errors.New("send in progress elsewhere")

// JobKind marks outbox payloads on the shared queue.
const JobKind = "send"

type envelope struct {
	Kind string `json:"k"`
	Job  *Job   `json:"send,omitempty"`
}

// EncodeJob wraps a job for the queue.
func EncodeJob(j *Job) []byte {
	b, _ := json.Marshal(envelope{Kind: JobKind, Job: j})
	return b
}

// DecodeJob unwraps a queue payload; ok is false when it is not a send job.
func DecodeJob(p []byte) (*Job, bool) {
	var e envelope
	if json.Unmarshal(p, &e) != nil || e.Kind != JobKind || e.Job == nil {
		return nil, false
	}
	return e.Job, true
}

// StopRecorder records that a person stopped us on a channel (Twilio 21610,
// Telegram "blocked"). The core implements it.
type StopRecorder interface {
	Stopped(ctx context.Context, p Person, ch Kind) error
}

// Outbox queues outbound messages on the shared queue and sends them with
// pacing, retries, the sent marker and a fallback channel.
type Outbox struct {
	store   *store.Store
	senders map[Kind]Sender
	limiter *redis_rate.Limiter
	pacing  Pacing
	stops   StopRecorder
	log     *slog.Logger
	// Outcomes hears what became of messages about something (Job.About);
	// nil: nobody. Set before the workers start.
	Outcomes OutcomeReporter
	// MaxAttempts before a message counts as failed (urgent ones fail faster
	// so the fallback channel is tried within seconds).
	MaxAttempts, MaxUrgentAttempts int
}

// NewOutbox builds an outbox; senders holds the channels that are on.
func NewOutbox(st *store.Store, senders map[Kind]Sender, pacing Pacing, stops StopRecorder, log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{store: st, senders: senders, limiter: redis_rate.NewLimiter(st.Redis()), pacing: pacing, stops: stops, log: log,
		MaxAttempts: 8, MaxUrgentAttempts: 3}
}

// AddSender turns a channel on (wiring, before the workers start).
func (o *Outbox) AddSender(k Kind, s Sender) {
	if o.senders == nil {
		o.senders = map[Kind]Sender{}
	}
	o.senders[k] = s
}

// Has reports whether a channel is on.
func (o *Outbox) Has(k Kind) bool { _, ok := o.senders[k]; return ok }

// Queue puts a job on the queue: urgent ones on the urgent stream, others
// on the normal one.
func (o *Outbox) Queue(ctx context.Context, j *Job) error {
	if j.Msg.ID == "" {
		return errors.New("outbox: message without id")
	}
	if err := o.store.Enqueue(ctx, "send:"+j.Msg.ID, j.Msg.Urgent, EncodeJob(j)); err != nil {
		return fmt.Errorf("queue message: %w", err)
	}
	return nil
}

// SendJob is the work handler of JobKind (registered with the runner in
// cmd/carecheck): it reads the job from the item and sends it (Handle).
func (o *Outbox) SendJob(ctx context.Context, it *store.Item) error {
	j, ok := DecodeJob(it.Payload)
	if !ok {
		return fmt.Errorf("read send job: %w", store.ErrUndecodable)
	}
	return o.Handle(ctx, j, it)
}

// Work turns a job into queue work, for submitting with other work in one round trip.
func (o *Outbox) Work(j *Job) store.Work {
	return store.Work{ID: "send:" + j.Msg.ID, Urgent: j.Msg.Urgent, Payload: EncodeJob(j), SendClaim: j.Msg.ID}
}

// QueueAt plans a job for later (a deferred check-in, a retry).
func (o *Outbox) QueueAt(ctx context.Context, j *Job, at time.Time) error {
	return o.store.Schedule(ctx, "send:"+j.Msg.ID+":"+strconv.Itoa(j.Attempt), at, EncodeJob(j))
}

// Handle sends one job taken from the queue. It returns an error only when
// the job must stay on the queue (Redis trouble); provider failures are
// handled here: retried later, sent on the other channel, or handed on.
//
// it, when not nil, is the queue item that carried the job: on success it
// is acknowledged in the same round trip as the sent marker (it.Acked).
func (o *Outbox) Handle(ctx context.Context, j *Job, it *store.Item) error {
	now := o.store.Now()
	sender, ok := o.senders[j.Msg.Channel]
	if !ok {
		return o.giveUp(ctx, j, fmt.Errorf("channel %s is off", j.Msg.Channel))
	}
	// Already sent, or being sent by another worker right now?
	switch claim, since, err := o.claim(ctx, j, it); {
	case err != nil:
		return err
	case claim == store.SendDone:
		return nil // a reclaimed or repeated job
	case claim == store.SendBusy:
		return ErrSendInProgress // stays on the queue; the sent marker settles it later
	case claim == store.SendUncertain:
		// Before pacing: a lookup is not a send, and the pacing paths
		// release the claim, which would forget the dead attempt.
		if done, err := o.reconcile(ctx, j, it, sender, since); done {
			return err
		}
	}
	if j.Msg.Urgent {
		// Urgent sends never wait, but they take their share of the
		// number's quota: the paced sends behind them wait for it.
		o.consume(ctx, j.Msg)
	}
	for !j.Msg.Urgent {
		wait, err := o.pace(ctx, j.Msg)
		if err == nil && wait > 2*time.Second {
			err = o.QueueAt(ctx, j, now.Add(wait))
		}
		if err != nil || wait > 2*time.Second {
			if rerr := o.store.ReleaseSend(ctx, j.Msg.ID); rerr != nil {
				return rerr
			}
			return err
		}
		if wait <= 0 {
			break
		}
		// Pacing is about the provider's real clock: a short wait is waited here.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err := fmt.Errorf("pace %s: %w", j.Msg.ID, context.Cause(ctx))
			if rerr := o.store.ReleaseSend(context.WithoutCancel(ctx), j.Msg.ID); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return err
		case <-t.C:
		}
	}
	pid, err := sender.Send(ctx, j.Msg)
	if err == nil {
		if err := o.markSent(ctx, j, pid, it); err != nil {
			return err
		}
		switch j.Msg.Channel {
		case Telegram:
			// The Bot API's answer is the outcome; an SMS's comes later
			// as a delivery report (Status), a call's as its status.
			o.report(ctx, j, Outcome{Status: "sent", ProviderID: pid})
		case Voice:
			o.report(ctx, j, Outcome{Status: "placed", ProviderID: pid})
		}
		return nil
	}
	o.report(ctx, j, Outcome{Status: "error", Code: errCode(err)})
	end := o.store.ReleaseSend
	if mayHaveSent(err) {
		// No answer (a timeout, a dropped connection) or a 5xx: the provider
		// may have taken it. The claim ends but stays on record, so the
		// retry asks the provider (SentFinder) before sending again.
		end = o.store.ExpireSend
	}
	if rerr := end(ctx, j.Msg.ID); rerr != nil {
		return rerr
	}
	return o.failed(ctx, j, err)
}

// markSentFor bounds how long markSent keeps trying (the item's own
// deadline, 30 s, usually ends it first).
const markSentFor = 30 * time.Second

// markSent records a send the provider took. Should Redis fail just then (a
// restart, a Sentinel failover: seconds), it is tried again with backoff
// until the item's deadline: given up, the item would wait for the
// reclaimer (30 s idle) and the send claim's minute, then a provider lookup,
// before the send is on record.
func (o *Outbox) markSent(ctx context.Context, j *Job, pid string, it *store.Item) error {
	raw, _ := json.Marshal(j)
	ctx, cancel := context.WithTimeout(ctx, markSentFor)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		err := o.store.MarkSent(ctx, j.Msg.ID, pid, raw, it, j.Routine())
		if err == nil || ctx.Err() != nil {
			return err
		}
		if wait == 50*time.Millisecond {
			o.log.Warn("sent, but the sent marker was not written: trying again", "message_id", j.Msg.ID, "err", err)
		}
		// Redis's real availability: a real timer.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// mayHaveSent reports whether a failed send may still have reached the
// provider: no HTTP answer came, or the answer was a bare 5xx. A provider
// error with its own code (Twilio 21211, Telegram 403) is a refusal.
func mayHaveSent(err error) bool {
	var se *SendError
	if !errors.As(err, &se) {
		return true
	}
	if se.Code == "network" {
		return true
	}
	n, convErr := strconv.Atoi(se.Code)
	return convErr == nil && n >= 500 && n < 600
}

// claim takes the message's send claim, or uses the one taken when the item
// was queued for this process (store.PreClaim) while it still holds: half
// the claim's time, so that a worker pool backed up for longer claims again
// (and then finds its own lapsed claim: SendUncertain, a provider lookup,
// never a second send).
func (o *Outbox) claim(ctx context.Context, j *Job, it *store.Item) (int, time.Time, error) {
	if it != nil && it.PreClaim != nil && time.Since(it.PreClaim.At) < store.SendClaimTTL/2 {
		return it.PreClaim.Outcome, it.PreClaim.Since, nil
	}
	return o.store.ClaimSend(ctx, j.Msg.ID, store.SendClaimTTL)
}

// reconcile settles a claim taken over from an attempt that died after
// claiming (SendUncertain): it may have handed the message to the provider
// without writing the sent marker. A provider that can be asked (SentFinder)
// is asked whether the message went out since the attempt began: if it did,
// it is marked sent with that provider id and not sent again. done=false
// means go on and send: nothing was found, or the channel cannot be asked
// (Telegram: a send in that window is repeated).
func (o *Outbox) reconcile(ctx context.Context, j *Job, it *store.Item, sender Sender, since time.Time) (done bool, err error) {
	finder, ok := sender.(SentFinder)
	if !ok {
		o.log.Warn("earlier send attempt died; the channel cannot say whether it went out: sending", "message_id", j.Msg.ID, "channel", string(j.Msg.Channel))
		return false, nil
	}
	pid, found, err := finder.FindSent(ctx, j.Msg, since)
	if err != nil {
		// Unknown: keep the dead attempt on record for the retry to ask again.
		if rerr := o.store.ExpireSend(ctx, j.Msg.ID); rerr != nil {
			return true, rerr
		}
		return true, o.failed(ctx, j, &SendError{Code: "lookup", Retryable: true, Err: fmt.Errorf("ask provider what was sent: %w", err)})
	}
	if found {
		// A provider id another message was marked with is not this one's
		// (the same text to the same person shortly before): send.
		owner, err := o.store.SentWith(ctx, pid)
		if err != nil {
			return true, err
		}
		if owner == "" || owner == j.Msg.ID {
			o.log.Info("earlier send attempt died after the provider took the message: marked sent, not sent again",
				"message_id", j.Msg.ID, "provider_id", pid)
			raw, _ := json.Marshal(j)
			return true, o.store.MarkSent(ctx, j.Msg.ID, pid, raw, it, j.Routine())
		}
		o.log.Warn("provider's match belongs to another message: sending", "message_id", j.Msg.ID, "provider_id", pid, "other_id", owner)
		return false, nil
	}
	o.log.Info("earlier send attempt died before the provider took the message: sending", "message_id", j.Msg.ID)
	return false, nil
}

// failed decides what a failed send leads to: a retry with backoff, the
// other channel, or the on-fail work.
func (o *Outbox) failed(ctx context.Context, j *Job, err error) error {
	now := o.store.Now()
	o.log.Warn("send failed", "message_id", j.Msg.ID, "channel", string(j.Msg.Channel), "attempt", j.Attempt+1, "code", errCode(err), "err", logErr(j, err))
	if IsStopped(err) {
		if o.stops != nil {
			if err := o.stops.Stopped(ctx, j.Person, j.Msg.Channel); err != nil {
				return err
			}
		}
		return o.giveUp(ctx, j, err)
	}
	limit := o.MaxAttempts
	switch {
	case j.Msg.Urgent && (j.Fallback != nil || j.OnFail != nil):
		// Fail fast: the other channel or the next step takes over.
		limit = o.MaxUrgentAttempts
	case j.Msg.Urgent:
		// Nothing takes over (a safety reply): keep trying, every 2 s at most.
		limit = o.MaxAttempts * 4
	}
	if IsRetryable(err) && j.Attempt+1 < limit {
		next := *j
		next.Attempt++
		return o.QueueAt(ctx, &next, now.Add(backoff(next.Attempt, j.Msg.Urgent)))
	}
	return o.giveUp(ctx, j, err)
}

var _ StatusReceiver = (*Outbox)(nil)

// A final delivery report for a message not on record yet is looked for
// again after reportRecheck, doubling up to reportRecheckMax (about 1.6 s
// in all): the time our own write of the send may lag Twilio's answer.
const (
	reportRecheck    = 25 * time.Millisecond
	reportRecheckMax = 800 * time.Millisecond
)

// Status applies a delivery report: statuses never move backwards; a
// failed or undelivered message is retried like a failed send; Twilio's
// 21610 means the person opted out with the carrier.
func (o *Outbox) Status(ctx context.Context, s StatusUpdate) error {
	final := s.Status == "delivered" || s.Status == "undelivered" || s.Status == "failed"
	id, moved, err := o.store.UpdateStatus(ctx, s.ProviderID, s.Status)
	// A report can overtake our own record of the send: Twilio took the
	// message and called back while the sent marker was still being
	// written. A final report is worth looking for again, for a moment.
	for wait := reportRecheck; errors.Is(err, store.ErrNotFound) && final && wait <= reportRecheckMax; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		id, moved, err = o.store.UpdateStatus(ctx, s.ProviderID, s.Status)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil // not ours, or expired
	}
	if err != nil || !moved {
		return err
	}
	failed := s.Status == "failed" || s.Status == "undelivered"
	if !failed && s.Status != "delivered" {
		return nil
	}
	raw, err := o.store.SentJob(ctx, id)
	if err != nil || raw == nil {
		return err
	}
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil
	}
	o.report(ctx, &j, Outcome{Status: s.Status, Code: s.ErrorCode, ProviderID: s.ProviderID})
	if !failed {
		return nil
	}
	if err := o.store.Unsend(ctx, id); err != nil {
		return err
	}
	code := s.ErrorCode
	se := &SendError{Code: code, Err: fmt.Errorf("delivery report: %s", s.Status)}
	switch code {
	case "21610":
		se.Stopped = true
	case "30001", "30002", "30003", "30005", "30006", "30007", "30008", "":
		se.Retryable = code != "30005" && code != "30006" // unknown or landline: not worth retrying
	}
	return o.failed(ctx, &j, se)
}

// report hands what became of one send of j to Outcomes, when j is about
// something. The send's own bookkeeping is done by then: a failure to
// record the outcome is logged, never a reason to send again.
func (o *Outbox) report(ctx context.Context, j *Job, out Outcome) {
	if o.Outcomes == nil || j.About == "" {
		return
	}
	out.Attempt = j.Attempt + 1
	if err := o.Outcomes.Outcome(ctx, j, out); err != nil {
		o.log.Warn("outcome not recorded", "message_id", j.Msg.ID, "outcome", out.Status, "err", err)
	}
}

// giveUp sends the fallback, or starts the on-fail work.
func (o *Outbox) giveUp(ctx context.Context, j *Job, cause error) error {
	if j.Fallback != nil {
		if _, ok := o.senders[j.Fallback.Channel]; ok {
			o.log.Warn("trying the other channel", "message_id", j.Msg.ID, "channel", string(j.Fallback.Channel))
			return o.Queue(ctx, &Job{Msg: *j.Fallback, Person: j.Person, OnFail: j.OnFail, About: j.About})
		}
	}
	if j.OnFail != nil {
		o.log.Warn("message undeliverable, handing on", "message_id", j.Msg.ID, "work", j.OnFail.ID)
		return o.store.Enqueue(ctx, j.OnFail.ID, true, j.OnFail.Payload)
	}
	o.log.Error("message undeliverable", "message_id", j.Msg.ID, "code", errCode(cause), "err", logErr(j, cause))
	return nil
}

// logErr is err's text for a log line about j: the provider's words
// without the recipient, the sending number or the message (Twilio's
// 21211 quotes the number it refused).
func logErr(j *Job, err error) string {
	personal := []string{j.Msg.To, j.Msg.From, j.Msg.Text}
	if f := j.Fallback; f != nil {
		personal = append(personal, f.To, f.From, f.Text)
	}
	return redact.Error(err, personal...)
}

// errCode is the provider's code of a failed send, "" if it has none.
func errCode(err error) string {
	var se *SendError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// backoff is exponential with half jitter: urgent messages from 250 ms
// capped at 2 s, others from 2 s capped at 10 minutes.
func backoff(attempt int, urgent bool) time.Duration {
	base := 2 * time.Second
	if urgent {
		base = 250 * time.Millisecond
	}
	d := time.Duration(float64(base) * math.Pow(2, float64(attempt-1)))
	limit := 10 * time.Minute
	if urgent {
		limit = 2 * time.Second
	}
	if d > limit {
		d = limit
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
