package escalation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/carecheck/carecheck/store"
)

// Ack acknowledges an open escalation and frees its ACK codes; it reports
// whether this call acknowledged it (false: it was not open). The codes are
// freed on every call, so a repeated ACK finishes a release that failed.
func (s *Service) Ack(ctx context.Context, agency, id, actor, via string) (*store.Escalation, bool, error) {
	now := s.now().UTC()
	changed := true
	e, err := s.store.UpdateEscalation(ctx, agency, id, func(x *store.Escalation) error {
		if x.Status != store.EscOpen {
			return store.ErrUnchanged
		}
		x.Status = store.EscAcknowledged
		x.AckedAt = &now
		x.AckedBy = actor
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "acknowledged", Detail: "via " + via})
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		changed = false
		e, err = s.store.Escalation(ctx, agency, id)
	}
	if err != nil {
		return nil, false, fmt.Errorf("acknowledge escalation %s: %w", id, err)
	}
	if changed {
		s.observe().Acknowledged(now.Sub(e.Opened), via)
		s.log.Info("escalation acknowledged", "escalation_id", id, "actor", actor, "via", via)
		s.tellOthers(ctx, e, actor)
	}
	if err := s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted); err != nil {
		return nil, false, fmt.Errorf("acknowledge escalation %s: %w", id, err)
	}
	return e, changed, nil
}

// Resolve closes an escalation with a note and frees its ACK codes.
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
		e, err = s.store.Escalation(ctx, agency, id)
		if err != nil {
			return nil, fmt.Errorf("resolve escalation %s: %w", id, err)
		}
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve escalation %s: %w", id, err)
	}
	if err := s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted); err != nil {
		return nil, fmt.Errorf("resolve escalation %s: %w", id, err)
	}
	return e, nil
}

// StaffReply handles a message from a case manager: an ACK code (forgiving:
// "ACK 12", "ack12", "12a", "a 12", a bare "ACK" when one alert is open) or
// "ack:<escalation id>" (the Telegram button's data, or the same typed). via
// names the channel it came by, for the audit: "sms", "telegram",
// "telegram button". Either way it acknowledges only an escalation of the
// staff member's agency whose audit shows an alert to them (or for which
// they hold an ACK code: their alert is on its way); anything else gets the
// help reply and changes nothing. It returns the reply to send.
func (s *Service) StaffReply(ctx context.Context, staff *store.CaseManager, text, via string) (string, error) {
	if !staff.Active {
		// A deactivated person acknowledges nothing: the alert climbs on
		// to someone who is still on duty.
		return StaffDeactivated, nil
	}
	codes, err := openCodes(ctx, s.store, staff)
	if err != nil {
		return "", fmt.Errorf("staff reply of %s: %w", staff.ID, err)
	}
	id, byID := strings.CutPrefix(strings.TrimSpace(text), "ack:")
	if !byID {
		code, ok := ParseAck(text)
		if !ok {
			return StaffHelp, nil
		}
		if code == "" && len(codes) == 1 {
			for c := range codes {
				code = c
			}
		}
		found := false
		if id, found = codes[code]; !found {
			return StaffHelp, nil
		}
	}
	e, err := s.store.Escalation(ctx, staff.AgencyID, strings.TrimSpace(id))
	if errors.Is(err, store.ErrNotFound) {
		return StaffHelp, nil
	}
	if err != nil {
		return "", fmt.Errorf("staff reply of %s: %w", staff.ID, err)
	}
	// An ACK code is claimed for a staff member just before their alert is
	// queued and its audit line written after: holding one for e counts as
	// alerted, so a reply faster than that write is not refused.
	if !AlertedTo(e, staff.ID) && !slices.Contains(slices.Collect(maps.Values(codes)), e.ID) {
		s.log.Info("ack refused: not alerted on this escalation", "escalation_id", e.ID, "staff_id", staff.ID)
		return StaffHelp, nil
	}
	e, changed, err := s.Ack(ctx, staff.AgencyID, e.ID, "staff:"+staff.ID, via)
	if err != nil {
		return "", fmt.Errorf("staff reply of %s: %w", staff.ID, err)
	}
	if !changed {
		return fmt.Sprintf("CareCheck: that alert is already %s.", e.Status), nil
	}
	return AckReply(clientName(ctx, s.store, s.log, e), e.AckCode), nil
}

// AlertedStaff are the staff members the escalation's audit shows an
// alert sent to, in the order first alerted.
func AlertedStaff(e *store.Escalation) []string {
	var out []string
	for _, en := range e.Audit {
		if en.Action != auditAlertSent {
			continue
		}
		f := strings.Fields(en.Detail)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "to" && !slices.Contains(out, f[i+1]) {
				out = append(out, f[i+1])
				break
			}
		}
	}
	return out
}

// AlertedTo reports whether the escalation's audit shows an alert sent to staffID.
func AlertedTo(e *store.Escalation, staffID string) bool {
	return slices.Contains(AlertedStaff(e), staffID)
}

// openCodes reads a staff member's ACK codes, keeping those of open
// escalations. A code still bound to a closed escalation (its release did
// not finish) is released here: left, it would make a bare "ACK" ambiguous
// and push later codes up.
func openCodes(ctx context.Context, st *store.Store, staff *store.CaseManager) (map[string]string, error) {
	codes, err := st.AckCodes(ctx, staff.AgencyID, staff.ID)
	if err != nil {
		return nil, err
	}
	for code, id := range codes {
		e, err := st.Escalation(ctx, staff.AgencyID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("escalation %s of ack code %s: %w", id, code, err)
		}
		if err == nil && e.Status == store.EscOpen {
			continue
		}
		if err := st.ReleaseAckCodes(ctx, staff.AgencyID, id, []string{staff.ID}); err != nil {
			return nil, err
		}
		delete(codes, code)
	}
	return codes, nil
}

// clientName names the escalation's client for the staff member's
// confirmation; the client id when the records cannot be read (the ACK
// itself is done).
func clientName(ctx context.Context, st *store.Store, log *slog.Logger, e *store.Escalation) string {
	c, err := st.Client(ctx, e.ClientID)
	if err != nil {
		log.Warn("ack reply names the client by id", "escalation_id", e.ID, "client_id", e.ClientID, "err", err)
		return e.ClientID
	}
	a, err := st.Agency(ctx, e.AgencyID)
	if err != nil {
		log.Warn("ack reply names the client by id", "escalation_id", e.ID, "agency_id", e.AgencyID, "err", err)
		return e.ClientID
	}
	return Who(a, c)
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
