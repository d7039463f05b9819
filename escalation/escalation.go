// Package escalation turns crisis and concern signals into a safety reply for
// the client and alerts that climb the agency's policy until a human
// acknowledges. Detection itself lives in escalation/detect.
package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Levels of an escalation.
const (
	Crisis  = "crisis"
	Concern = "concern"
)

// Signal is why an escalation opens: the level, category words for staff
// ("crisis language", "PHQ-9 item 9 = 2") and the detector's explanations.
type Signal struct {
	Level   string
	Reasons []string
	Explain []string
}

// Service runs escalations.
type Service struct {
	store  *store.Store
	outbox *bot.Outbox
	log    *slog.Logger
	now    func() time.Time
	// SafetyEvery spaces safety replies to one client.
	SafetyEvery time.Duration
}

// NewService builds the escalation service.
func NewService(st *store.Store, ob *bot.Outbox, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, outbox: ob, log: log, now: st.Now, SafetyEvery: 30 * time.Minute}
}

// StepKind marks escalation timer payloads on the shared queue.
const StepKind = "esc-step"

// StepWork is the payload of an escalation timer.
type StepWork struct {
	Kind   string `json:"k"`
	Agency string `json:"agency"`
	ID     string `json:"esc"`
	Round  int    `json:"round"`
	Step   int    `json:"step"`
	// Held marks a low-urgency alert held for the staff member's working
	// hours: when it comes due it is sent if the escalation is still open.
	Held bool `json:"held,omitempty"`
}

func stepID(w StepWork) string {
	return fmt.Sprintf("esc:%s:%d:%d", w.ID, w.Round, w.Step)
}

// SafetyReply sends the agency's safety message to the client at once, at
// most once per SafetyEvery, on the channel the client just wrote from (even
// when opted out: they just wrote to us).
func (s *Service) SafetyReply(ctx context.Context, a *store.Agency, c *store.Client, ch bot.Kind, addr, from, messageID string) error {
	first, err := s.store.Once(ctx, "safety:"+c.ID, s.SafetyEvery)
	if err != nil {
		return fmt.Errorf("safety reply: %w", err)
	}
	if !first {
		return nil
	}
	job := &bot.Job{
		Msg:    bot.Outbound{ID: "safety:" + c.ID + ":" + messageID, Channel: ch, To: addr, From: from, Text: Safety(a, c.Language), Urgent: true},
		Person: bot.Person{Kind: "client", ID: c.ID},
	}
	// The client's other channel, should this one fail for good.
	switch {
	case ch == bot.SMS && c.TelegramChat != "" && !c.TelegramUnreachable && s.outbox.Has(bot.Telegram):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To, fb.From = job.Msg.ID+":tg", bot.Telegram, c.TelegramChat, ""
		job.Fallback = &fb
	case ch == bot.Telegram && c.Phone != "" && s.outbox.Has(bot.SMS):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To = job.Msg.ID+":sms", bot.SMS, c.Phone
		job.Fallback = &fb
	}
	if err := s.outbox.Queue(ctx, job); err != nil {
		// Not queued: let the reprocessed message try again.
		_ = s.store.Forget(context.WithoutCancel(ctx), "safety:"+c.ID)
		return err
	}
	s.log.Info("safety reply queued", "client_id", c.ID, "message_id", job.Msg.ID)
	return nil
}

// Raise opens an escalation for the client, or adds the signal to the one
// already open, and alerts the first step of the policy.
func (s *Service) Raise(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string) (*store.Escalation, error) {
	policy := DefaultPolicy()
	if a.Policy != nil && len(a.Policy.Steps) > 0 {
		policy = *a.Policy
	}
	if sig.Level == Concern {
		// Low urgency: the assigned case manager only, no climbing.
		policy = store.Policy{Steps: []store.PolicyStep{{Notify: NotifyAssigned, Wait: store.Duration(24 * time.Hour)}}}
	}
	now := s.now().UTC()
	e, isNew, err := s.store.OpenEscalation(ctx, &store.Escalation{
		AgencyID: a.ID, ClientID: c.ID, Level: sig.Level, Reasons: sig.Reasons, Signals: sig.Explain, Policy: policy,
		Audit: []store.AuditEntry{{At: now, Actor: actor, Action: "opened", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")}},
	})
	if err != nil {
		return nil, err
	}
	if !isNew {
		upgrade := sig.Level == Crisis && e.Level == Concern
		e, err = s.store.UpdateEscalation(ctx, a.ID, e.ID, func(x *store.Escalation) error {
			x.Reasons = mergeReasons(x.Reasons, sig.Reasons)
			x.Signals = mergeReasons(x.Signals, sig.Explain)
			x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "signal joined", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")})
			if upgrade {
				x.Level = Crisis
				x.Policy = policy
				x.Step, x.Round = 0, 0
				x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: "system", Action: "raised to crisis"})
			}
			return nil
		})
		if err != nil || !upgrade {
			return e, err
		}
	}
	s.log.Info("escalation opened", "escalation_id", e.ID, "client_id", c.ID, "level", e.Level)
	return e, s.alertStep(ctx, a, c, e)
}

func mergeReasons(have, add []string) []string {
	seen := map[string]bool{}
	for _, r := range have {
		seen[r] = true
	}
	for _, r := range add {
		if !seen[r] {
			have = append(have, r)
			seen[r] = true
		}
	}
	return have
}

// HandleStep runs an escalation timer: if nobody acknowledged, alert the
// next step (the last one repeats up to the policy's count). Stale timers —
// the escalation moved on or closed — do nothing.
func (s *Service) HandleStep(ctx context.Context, w StepWork) error {
	e, err := s.store.Escalation(ctx, w.Agency, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.Status != store.EscOpen {
		return nil
	}
	a, err := s.store.Agency(ctx, e.AgencyID)
	if err != nil {
		return err
	}
	c, err := s.store.Client(ctx, e.ClientID)
	if err != nil {
		return err
	}
	if w.Held {
		// Working hours began: send the held concern alert, unless the
		// escalation moved on (raised to crisis: its own alerts went out).
		if e.Level != Concern || e.Round != w.Round || e.Step != w.Step {
			return nil
		}
		return s.alert(ctx, a, c, e, true)
	}
	now := s.now().UTC()
	advanced := false
	e, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
		if x.Status != store.EscOpen || x.Round != w.Round || x.Step != w.Step-1 {
			return store.ErrUnchanged
		}
		x.Step = w.Step
		if x.Step >= len(x.Policy.Steps) {
			x.Step = len(x.Policy.Steps) - 1
			x.Round++
			if x.Level == Concern || x.Round > x.Policy.Repeat {
				x.Round = w.Round
				x.Step = len(x.Policy.Steps) // parked: nothing more to alert
				x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: "system", Action: "policy exhausted", Detail: "still open, unacknowledged"})
				return nil
			}
		}
		advanced = true
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if !advanced {
		s.log.Error("escalation unacknowledged after the whole policy", "escalation_id", e.ID)
		return nil
	}
	return s.alertStep(ctx, a, c, e)
}

// alertStep alerts the target of the escalation's current step and plans
// the timer of the next one. A step with nobody to alert moves on at once.
func (s *Service) alertStep(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation) error {
	return s.alert(ctx, a, c, e, false)
}

// alert is alertStep; inHours skips the working-hours check of a concern
// (its held alert came due).
func (s *Service) alert(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation, inHours bool) error {
	for guard := 0; guard < 20; guard++ {
		step := e.Policy.Steps[e.Step]
		next := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step + 1}
		nextRaw, _ := json.Marshal(next)
		staff, err := s.target(ctx, a, c, step.Notify)
		if err != nil {
			return err
		}
		if staff == nil {
			_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
				x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "step skipped", Detail: fmt.Sprintf("step %d (%s): nobody to alert", e.Step+1, step.Notify)})
				return nil
			})
			if err != nil {
				return err
			}
			if err := s.HandleStep(ctx, next); err != nil {
				return err
			}
			return nil
		}
		if e.Level == Concern && !inHours {
			// Low urgency waits for the staff member's working hours. It is
			// held as escalation work, not as a message: acknowledged or
			// resolved meanwhile (in the console), nothing goes out.
			if at := NextWorkingTime(staff.WorkingHours, s.now()); at.After(s.now()) {
				held := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step, Held: true}
				raw, _ := json.Marshal(held)
				_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
					x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "alert held",
						Detail: fmt.Sprintf("low urgency: to %s at %s (working hours)", staff.ID, at.UTC().Format(time.RFC3339))})
					return nil
				})
				if err != nil {
					return err
				}
				return s.store.Schedule(ctx, stepID(held)+":held", at, raw)
			}
		}
		code, err := s.store.ClaimAckCode(ctx, a.ID, staff.ID, e.ID)
		if err != nil {
			return err
		}
		msg, fallback := s.alertMessages(a, c, e, staff, code)
		if msg == nil {
			_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
				x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "step skipped", Detail: fmt.Sprintf("step %d: %s has no phone or Telegram", e.Step+1, staff.ID)})
				return nil
			})
			if err != nil {
				return err
			}
			return s.HandleStep(ctx, next)
		}
		_, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
			x.AckCode = code
			if !contains(x.Alerted, staff.ID) {
				x.Alerted = append(x.Alerted, staff.ID)
			}
			x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "alert sent",
				Detail: fmt.Sprintf("step %d round %d to %s by %s (ACK %s)", e.Step+1, e.Round+1, staff.ID, msg.Channel, code), MessageID: msg.ID})
			return nil
		})
		if err != nil {
			return err
		}
		job := &bot.Job{Msg: *msg, Person: bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}, Fallback: fallback,
			OnFail: &bot.Work{ID: stepID(next) + ":failed", Payload: nextRaw}}
		if e.Level == Concern {
			job.Msg.Urgent = false
		}
		if err := s.outbox.Queue(ctx, job); err != nil {
			return err
		}
		if e.Level == Concern {
			return nil // no climbing
		}
		return s.store.Schedule(ctx, stepID(next), s.now().Add(time.Duration(step.Wait)), nextRaw)
	}
	return errors.New("escalation: too many skipped steps")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// target resolves a policy step to a case manager (nil: nobody).
func (s *Service) target(ctx context.Context, a *store.Agency, c *store.Client, notify string) (*store.CaseManager, error) {
	// ValidatePolicy trims; the stored step may not be: " assigned " must not
	// read as a case manager id that does not exist (a skipped step).
	notify = strings.TrimSpace(notify)
	id := notify
	switch notify {
	case NotifyAssigned:
		id = c.CaseManagerID
	case NotifyBackup:
		cm, err := s.store.CaseManager(ctx, a.ID, c.CaseManagerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		id = cm.BackupID
	}
	if id == "" {
		return nil, nil
	}
	cm, err := s.store.CaseManager(ctx, a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !cm.Active {
		return nil, nil
	}
	return cm, nil
}

// alertMessages builds the alert on the staff member's own channel (Telegram
// when linked and on, else SMS) and the same alert on the other one.
func (s *Service) alertMessages(a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string) (*bot.Outbound, *bot.Outbound) {
	shown := *e
	shown.Reasons = alertReasons(a, e.Reasons)
	text := AlertText(Who(a, c), &shown, code)
	id := fmt.Sprintf("alert:%s:%d:%d:%s", e.ID, e.Round, e.Step, staff.ID)
	var tg, sms *bot.Outbound
	if staff.TelegramChat != "" && s.outbox.Has(bot.Telegram) {
		tg = &bot.Outbound{ID: id + ":tg", Channel: bot.Telegram, To: staff.TelegramChat, Text: text, Urgent: true,
			Buttons: []bot.Button{{Label: "ACK " + code, Data: "ack:" + e.ID}}}
	}
	if staff.Phone != "" && s.outbox.Has(bot.SMS) {
		sms = &bot.Outbound{ID: id + ":sms", Channel: bot.SMS, To: staff.Phone, Text: text, Urgent: true}
	}
	if tg != nil {
		return tg, sms
	}
	return sms, nil
}

// Ack acknowledges an open escalation; it reports false when it was not open.
func (s *Service) Ack(ctx context.Context, agency, id, actor, via string) (*store.Escalation, bool, error) {
	now := s.now().UTC()
	changed := false
	e, err := s.store.UpdateEscalation(ctx, agency, id, func(x *store.Escalation) error {
		if x.Status != store.EscOpen {
			return store.ErrUnchanged
		}
		x.Status = store.EscAcknowledged
		x.AckedAt = &now
		x.AckedBy = actor
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "acknowledged", Detail: "via " + via})
		changed = true
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		e, err = s.store.Escalation(ctx, agency, id)
		return e, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s.log.Info("escalation acknowledged", "escalation_id", id, "actor", actor)
	return e, changed, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
}

// Resolve closes an escalation with a note.
func (s *Service) Resolve(ctx context.Context, agency, id, actor, note string) (*store.Escalation, error) {
	now := s.now().UTC()
	e, err := s.store.UpdateEscalation(ctx, agency, id, func(x *store.Escalation) error {
		if x.Status == store.EscResolved {
			return store.ErrUnchanged
		}
		x.Status = store.EscResolved
		x.ResolvedAt = &now
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "resolved", Detail: note})
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return s.store.Escalation(ctx, agency, id)
	}
	if err != nil {
		return nil, err
	}
	return e, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
}

// StaffReply handles a message from a case manager: an ACK code (forgiving:
// "ACK 12", "ack12", "12a", "a 12", a bare "ACK" when one alert is open) or
// a Telegram button "ack:<id>". It returns the reply to send.
func (s *Service) StaffReply(ctx context.Context, staff *store.CaseManager, text string) (string, error) {
	if id, ok := strings.CutPrefix(strings.TrimSpace(text), "ack:"); ok {
		e, changed, err := s.Ack(ctx, staff.AgencyID, id, "staff:"+staff.ID, "telegram button")
		if errors.Is(err, store.ErrNotFound) {
			return StaffHelp, nil
		}
		if err != nil {
			return "", err
		}
		return s.ackAnswer(ctx, e, changed)
	}
	codes, err := s.store.AckCodes(ctx, staff.AgencyID, staff.ID)
	if err != nil {
		return "", err
	}
	code, ok := ParseAck(text)
	if !ok {
		return StaffHelp, nil
	}
	if code == "" && len(codes) == 1 {
		for c := range codes {
			code = c
		}
	}
	id, found := codes[code]
	if !found {
		return StaffHelp, nil
	}
	e, changed, err := s.Ack(ctx, staff.AgencyID, id, "staff:"+staff.ID, "sms")
	if err != nil {
		return "", err
	}
	return s.ackAnswer(ctx, e, changed)
}

func (s *Service) ackAnswer(ctx context.Context, e *store.Escalation, changed bool) (string, error) {
	if !changed {
		return fmt.Sprintf("CareCheck: that alert is already %s.", e.Status), nil
	}
	who := e.ClientID
	if c, err := s.store.Client(ctx, e.ClientID); err == nil {
		if a, err := s.store.Agency(ctx, e.AgencyID); err == nil {
			who = Who(a, c)
		}
	}
	return AckReply(who, e.AckCode), nil
}

// ParseAck reads an acknowledgement: it returns the code ("" for a bare
// ACK) and whether the text is an acknowledgement at all. Any space or
// punctuation separates ("ack\n2", "ACK-2", "ack, 2"); two codes are
// ambiguous and not guessed.
func ParseAck(text string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(text))
	var word, num string
	setNum := func(n string) bool {
		if num != "" {
			return false
		}
		num = n
		return true
	}
	for _, f := range strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		ok := true
		switch {
		case f == "ack" || f == "a" || f == "ok":
			word = f
		case isDigits(f):
			ok = setNum(f)
		case strings.HasPrefix(f, "ack") && isDigits(f[3:]):
			word = "ack"
			ok = setNum(f[3:])
		case strings.HasSuffix(f, "a") && isDigits(f[:len(f)-1]):
			word = "a"
			ok = setNum(f[:len(f)-1])
		case strings.HasPrefix(f, "a") && isDigits(f[1:]):
			word = "a"
			ok = setNum(f[1:])
		default:
			ok = false
		}
		if !ok {
			return "", false
		}
	}
	if word == "" {
		return "", false
	}
	if num != "" {
		n, _ := strconv.Atoi(num)
		num = strconv.Itoa(n)
	}
	return num, true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NextWorkingTime is now when now is inside the working hours, else the
// start of the next working period. A period whose end is not after its
// start runs over midnight (a night shift, 22:00–06:00): it belongs to the
// day it starts on.
func NextWorkingTime(wh store.WorkingHours, now time.Time) time.Time {
	loc, err := time.LoadLocation(wh.Timezone)
	if err != nil || wh.Start == "" || wh.End == "" || wh.Timezone == "" {
		return now
	}
	start, err1 := time.Parse("15:04", wh.Start)
	end, err2 := time.Parse("15:04", wh.End)
	if err1 != nil || err2 != nil {
		return now
	}
	days := map[int]bool{}
	for _, d := range wh.Days {
		days[d] = true
	}
	if len(days) == 0 {
		days = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}
	}
	local := now.In(loc)
	y, m, d := local.Date()
	for i := -1; i < 8; i++ { // yesterday: a night shift still running
		from := time.Date(y, m, d+i, start.Hour(), start.Minute(), 0, 0, loc)
		wd := int(from.Weekday())
		if wd == 0 {
			wd = 7
		}
		if !days[wd] {
			continue
		}
		to := time.Date(y, m, d+i, end.Hour(), end.Minute(), 0, 0, loc)
		if !to.After(from) {
			to = time.Date(y, m, d+i+1, end.Hour(), end.Minute(), 0, 0, loc)
		}
		if !local.Before(from) && local.Before(to) {
			return now
		}
		if local.Before(from) {
			return from
		}
	}
	return now
}
