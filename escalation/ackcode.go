package escalation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/carecheck/carecheck/store"
)

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
		if err != nil {
			return e, false, err
		}
		// Released again: a repeated ACK finishes a release that failed.
		return e, false, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
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
	codes, err := s.openCodes(ctx, staff)
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

// openCodes reads a staff member's ACK codes, keeping those of open
// escalations. A code still bound to a closed one (the process stopped
// between the closing and the release) is released here: left, it would
// make a bare "ACK" ambiguous and push later codes up.
func (s *Service) openCodes(ctx context.Context, staff *store.CaseManager) (map[string]string, error) {
	codes, err := s.store.AckCodes(ctx, staff.AgencyID, staff.ID)
	if err != nil {
		return nil, err
	}
	for code, id := range codes {
		e, err := s.store.Escalation(ctx, staff.AgencyID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && e.Status == store.EscOpen {
			continue
		}
		if err := s.store.ReleaseAckCodes(ctx, staff.AgencyID, id, []string{staff.ID}); err != nil {
			return nil, err
		}
		delete(codes, code)
	}
	return codes, nil
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
