package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// SMSIdentity is an agency's own SMS sending identity: Twilio numbers, a
// Messaging Service, or both. Messages go out through the service when
// there is one, else from one of the numbers; texts to any of the numbers,
// or through the service, reach the agency.
type SMSIdentity struct {
	Numbers             []string `json:"numbers,omitempty"`
	MessagingServiceSID string   `json:"messaging_service_sid,omitempty"`
}

// addresses are what the identity claims: its numbers and its service.
func (id *SMSIdentity) addresses() []string {
	if id == nil {
		return nil
	}
	out := slices.Clone(id.Numbers)
	if id.MessagingServiceSID != "" {
		out = append(out, id.MessagingServiceSID)
	}
	return out
}

// SMSFrom is where an SMS from the agency to the phone to goes out from:
// its Messaging Service when it has one (service), else one of its numbers
// (from), the same one for a phone every time so that a person sees one
// number; "" and "" for an agency on the service's default number
// (TWILIO_FROM_NUMBER). A nil agency is on the default.
func (a *Agency) SMSFrom(to string) (from, service string) {
	if a == nil || a.SMS == nil {
		return "", ""
	}
	if a.SMS.MessagingServiceSID != "" {
		return "", a.SMS.MessagingServiceSID
	}
	n := len(a.SMS.Numbers)
	if n == 0 {
		return "", ""
	}
	h := fnv.New32a()
	h.Write([]byte(to))
	return a.SMS.Numbers[h.Sum32()%uint32(n)], ""
}

// Line is the sending identity an inbound text reached, and where answers
// to it go out from.
type Line struct {
	// Agency owns the identity; "" for the service's default number.
	Agency string
	// Unknown is a number no agency owns that is not the default: its
	// sender is a stranger whoever they are.
	Unknown bool
	// From and Service are the answer's sending address: the number the
	// text was sent to, or the agency's Messaging Service it came through;
	// both "" for the default number; a number nobody owns answers from
	// itself.
	From, Service string
}

// lineCache remembers which agency owns each (number, service) a text came
// to, so that the owner lookup reads the right phone binding in the same
// round trip as the identity itself; the identity read stays the answer,
// the cache only saves a second round trip. Bounded: it forgets everything
// past maxLines entries (Twilio only calls with our own numbers).
type lineCache struct {
	m sync.Map
	n atomic.Int64
}

const maxLines = 4096

func (c *lineCache) guess(key string) string {
	v, _ := c.m.Load(key)
	s, _ := v.(string)
	return s
}

func (c *lineCache) remember(key, agency string) {
	if v, ok := c.m.Load(key); ok && v == agency {
		return
	}
	if _, loaded := c.m.Swap(key, agency); !loaded && c.n.Add(1) > maxLines {
		c.m.Clear()
		c.n.Store(0)
	}
}

// PhoneOwner finds who owns a phone that texted our number to (through
// the Messaging Service service, when Twilio names one): the identity that
// number or service belongs to picks whose phone bindings are read. A text
// to an agency's own number reaches only that agency's people; a text to
// the default number (or with to "") reaches the people of the agencies on
// the default. A number nobody owns that is not the default answers
// ErrNotFound with line.Unknown. One round trip once the number has been
// seen by this process.
func (s *Store) PhoneOwner(ctx context.Context, to, service, phone string) (Owner, Line, error) {
	cacheKey := to + " " + service
	guess := s.lines.guess(cacheKey)
	pipe := s.hot.Pipeline()
	var toCmd, svcCmd, ownCmd *redis.StringCmd
	if to != "" && to != s.smsNumber {
		toCmd = pipe.Get(ctx, keySMSIdentity(to))
	}
	if service != "" {
		svcCmd = pipe.Get(ctx, keySMSIdentity(service))
	}
	defCmd := pipe.Get(ctx, keyPhoneOwner(s.smsNumber, phone))
	if guess != "" {
		ownCmd = pipe.Get(ctx, keyAgencyPhoneOwner(guess, phone))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Owner{}, Line{}, fmt.Errorf("look up sender: %w", err)
	}
	line := s.lineOf(to, service, val(toCmd), val(svcCmd))
	s.lines.remember(cacheKey, line.Agency)
	switch {
	case line.Unknown:
		return Owner{}, line, ErrNotFound
	case line.Agency == "":
		o, ok := parseOwner(val(defCmd))
		if !ok {
			return Owner{}, line, ErrNotFound
		}
		return o, line, nil
	}
	own := val(ownCmd)
	if line.Agency != guess {
		v, err := s.hot.Get(ctx, keyAgencyPhoneOwner(line.Agency, phone)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Owner{}, line, fmt.Errorf("look up sender: %w", err)
		}
		own = v
	}
	if o, ok := parseOwner(own); ok {
		return o, line, nil
	}
	// Bound before the agency had its own identity, and not moved yet.
	if o, ok := parseOwner(val(defCmd)); ok && o.AgencyID == line.Agency {
		return o, line, nil
	}
	return Owner{}, line, ErrNotFound
}

// lineOf decides the identity a text reached from what its number and
// service are claimed by: the number's agency; the default number; the
// service's agency; else nobody's. The default number is never an
// agency's, whatever service it sits in.
func (s *Store) lineOf(to, service, toAgency, svcAgency string) Line {
	switch {
	case toAgency != "":
		l := Line{Agency: toAgency, From: to}
		if svcAgency == toAgency {
			l.From, l.Service = "", service
		}
		return l
	case to == "" || s.smsNumber == "" || to == s.smsNumber:
		return Line{}
	case svcAgency != "":
		return Line{Agency: svcAgency, Service: service}
	}
	return Line{Unknown: true, From: to}
}

func val(c *redis.StringCmd) string {
	if c == nil {
		return ""
	}
	return c.Val()
}

// ownsIdentity reports whether an agency has its own SMS identity (its
// people's phones are bound in its own space). An agency that does not
// exist is on the default.
func (s *Store) ownsIdentity(ctx context.Context, agencyID string) (bool, error) {
	a, err := s.Agency(ctx, agencyID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.SMS != nil, nil
}

// claimPhone binds a phone to a person, in the phone space of their
// agency's sending identity: the agency's own when it has one, else the
// default number's, shared by every agency on it. In an agency's own
// space only its own people can conflict: a binding from before it had
// its own identity counts when it is one of its own active people; any
// other agency's binding is not read further, so nothing about it shows.
func (s *Store) claimPhone(ctx context.Context, o Owner, phone string) error {
	own, err := s.ownsIdentity(ctx, o.AgencyID)
	if err != nil {
		return fmt.Errorf("claim address: %w", err)
	}
	if !own {
		return s.claimOwner(ctx, keyPhoneOwner(s.smsNumber, phone), o)
	}
	cur, err := s.rdb.Get(ctx, keyPhoneOwner(s.smsNumber, phone)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("claim address: %w", err)
	}
	if h, ok := parseOwner(cur); ok && h.AgencyID == o.AgencyID && h != o && s.ownerActive(ctx, h) {
		return ErrConflict
	}
	return s.claimOwner(ctx, keyAgencyPhoneOwner(o.AgencyID, phone), o)
}

// releasePhone drops a person's binding of a phone, in whichever space
// holds it.
func (s *Store) releasePhone(ctx context.Context, o Owner, phone string) {
	s.releaseOwner(ctx, keyAgencyPhoneOwner(o.AgencyID, phone), o)
	s.releaseOwner(ctx, keyPhoneOwner(s.smsNumber, phone), o)
}

// SetSMSIdentity gives an agency its own SMS sending identity, or replaces
// the one it has, and returns the one it had (nil: the default) and whether
// the new one was saved (an error after the save leaves saved true). Each
// number and service is claimed for the agency first: one claimed by
// another agency, or the default number itself, is ErrConflict and nothing
// changes. Then the record is saved, the agency's people's phone bindings
// move from the default space into the agency's own, and numbers or a
// service it no longer uses are released. A call that failed after the save
// is finished by repeating it; until then the people not yet moved are
// still found (PhoneOwner reads the default binding of the agency's people).
func (s *Store) SetSMSIdentity(ctx context.Context, agencyID string, id SMSIdentity) (old *SMSIdentity, saved bool, err error) {
	want := id.addresses()
	if len(want) == 0 {
		return nil, false, errors.New("set SMS identity: no number or service")
	}
	var claimed []string
	undo := func() {
		for _, addr := range claimed {
			_ = scriptDelIfEquals.Run(context.WithoutCancel(ctx), s.rdb, []string{keySMSIdentity(addr)}, agencyID).Err()
		}
	}
	for _, addr := range want {
		if addr == s.smsNumber {
			undo()
			return nil, false, ErrConflict
		}
		ok, err := s.rdb.SetNX(ctx, keySMSIdentity(addr), agencyID, 0).Result()
		if err != nil {
			undo()
			return nil, false, fmt.Errorf("claim sending identity: %w", err)
		}
		if ok {
			claimed = append(claimed, addr)
			continue
		}
		cur, err := s.rdb.Get(ctx, keySMSIdentity(addr)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			undo()
			return nil, false, fmt.Errorf("claim sending identity: %w", err)
		}
		if cur != agencyID {
			// Released meanwhile or another agency's: either way, not ours now.
			undo()
			return nil, false, ErrConflict
		}
	}
	err = s.updateAgency(ctx, agencyID, func(a *Agency) {
		old = a.SMS
		a.SMS = &SMSIdentity{Numbers: slices.Clone(id.Numbers), MessagingServiceSID: id.MessagingServiceSID}
	})
	if err != nil {
		undo()
		return nil, false, err
	}
	if err := s.moveBindings(ctx, agencyID); err != nil {
		return old, true, err
	}
	for _, addr := range old.addresses() {
		if !slices.Contains(want, addr) {
			if err := scriptDelIfEquals.Run(ctx, s.rdb, []string{keySMSIdentity(addr)}, agencyID).Err(); err != nil {
				return old, true, fmt.Errorf("release sending identity: %w", err)
			}
		}
	}
	return old, true, nil
}

// updateAgency changes a stored agency record under WATCH (ErrNotFound if
// there is none).
func (s *Store) updateAgency(ctx context.Context, agencyID string, change func(*Agency)) error {
	_, _, err := changeJSON(ctx, s, keyAgency(agencyID), 10, func(a *Agency) error {
		change(a)
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("save agency %s: %w", agencyID, err)
	}
	return err
}

// moveBindings moves the phone bindings an agency's people hold in the
// default space into the agency's own. A binding of the default space that
// is not theirs (another agency's person took the phone over) stays. Should
// the agency's own space hold another active person of theirs for the phone
// (created while this ran), the old binding stays where it is, still found.
func (s *Store) moveBindings(ctx context.Context, agencyID string) error {
	var people []phoneHolder
	for cursor := ""; ; {
		page, err := s.Clients(ctx, agencyID, cursor, 200)
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			if c.Phone != "" {
				people = append(people, phoneHolder{Owner{Kind: "client", ID: c.ID, AgencyID: agencyID}, c.Phone})
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	for cursor := ""; ; {
		page, err := s.CaseManagers(ctx, agencyID, cursor, 200)
		if err != nil {
			return err
		}
		for _, m := range page.Items {
			if m.Phone != "" {
				people = append(people, phoneHolder{Owner{Kind: "staff", ID: m.ID, AgencyID: agencyID}, m.Phone})
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	for batch := range slices.Chunk(people, 200) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, p := range batch {
			cmds[i] = pipe.Get(ctx, keyPhoneOwner(s.smsNumber, p.phone))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("read phone bindings: %w", err)
		}
		for i, p := range batch {
			if cmds[i].Val() != p.owner.value() {
				continue
			}
			err := s.claimOwner(ctx, keyAgencyPhoneOwner(agencyID, p.phone), p.owner)
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			s.releaseOwner(ctx, keyPhoneOwner(s.smsNumber, p.phone), p.owner)
		}
	}
	return nil
}

type phoneHolder struct {
	owner Owner
	phone string
}
