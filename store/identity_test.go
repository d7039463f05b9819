package store

import (
	"errors"
	"testing"
)

func identityScenarios() []scenario {
	return []scenario{
		{"identity/a text reaches the people of the identity it was sent to", testIdentityRouting},
		{"identity/claims are first come, the default number is nobody's", testIdentityClaims},
		{"identity/an agency's people move to its own phone space", testIdentityMovesPeople},
	}
}

const defaultNumber = "+13125550100"

// newAgency creates an agency; with id, it gets that SMS identity.
func newAgency(t *testing.T, s *Store, id *SMSIdentity) *Agency {
	t.Helper()
	a := &Agency{Name: unique("agency "), Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if id != nil {
		if _, saved, err := s.SetSMSIdentity(t.Context(), a.ID, *id); err != nil || !saved {
			t.Fatalf("set identity: saved %t, %v", saved, err)
		}
		a.SMS = id
	}
	return a
}

func newClient(t *testing.T, s *Store, a *Agency, phone string) (*Client, error) {
	t.Helper()
	c := &Client{AgencyID: a.ID, Name: "Client", Phone: phone, Channel: "sms", Timezone: "America/Chicago", Language: "en"}
	return c, s.CreateClient(t.Context(), c)
}

func mustClient(t *testing.T, s *Store, a *Agency, phone string) *Client {
	t.Helper()
	c, err := newClient(t, s, a, phone)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c
}

// owner asserts who PhoneOwner finds ("" for nobody) and returns the line.
func owner(t *testing.T, s *Store, to, service, phone, want string) Line {
	t.Helper()
	o, line, err := s.PhoneOwner(t.Context(), to, service, phone)
	switch {
	case want == "" && !errors.Is(err, ErrNotFound):
		t.Errorf("owner of %s texting %s/%s = %+v, %v; want nobody", phone, to, service, o, err)
	case want != "" && (err != nil || o.ID != want):
		t.Errorf("owner of %s texting %s/%s = %+v, %v; want %s", phone, to, service, o, err, want)
	}
	return line
}

func testIdentityRouting(t *testing.T, s *Store) {
	s.smsNumber = defaultNumber
	const svc = "MG0123456789abcdef0123456789abcdef"
	na, nb, nb2, stray := phone(), phone(), phone(), phone()
	a := newAgency(t, s, &SMSIdentity{Numbers: []string{na}})
	b := newAgency(t, s, &SMSIdentity{Numbers: []string{nb}, MessagingServiceSID: svc})
	p := phone()
	ca, cb := mustClient(t, s, a, p), mustClient(t, s, b, p)

	// Twice each: the second read goes by what the first remembered.
	for range 2 {
		if l := owner(t, s, na, "", p, ca.ID); l != (Line{Agency: a.ID, From: na}) {
			t.Errorf("line of A's number = %+v", l)
		}
		if l := owner(t, s, nb, svc, p, cb.ID); l != (Line{Agency: b.ID, Service: svc}) {
			t.Errorf("line of B's number in its service = %+v", l)
		}
		// A number of B's service pool that B did not list: the service decides.
		if l := owner(t, s, nb2, svc, p, cb.ID); l != (Line{Agency: b.ID, Service: svc}) {
			t.Errorf("line of a number of B's service = %+v", l)
		}
		// Nobody on the default number has the phone; the default number
		// is the default whatever service it is in.
		if l := owner(t, s, defaultNumber, svc, p, ""); l != (Line{}) {
			t.Errorf("line of the default number = %+v", l)
		}
		if l := owner(t, s, stray, "", p, ""); l != (Line{Unknown: true, From: stray}) {
			t.Errorf("line of a number nobody owns = %+v", l)
		}
	}
	// A replaced number is no longer A's: the identity read decides, not
	// what this process remembered.
	na2 := phone()
	if _, _, err := s.SetSMSIdentity(t.Context(), a.ID, SMSIdentity{Numbers: []string{na2}}); err != nil {
		t.Fatal(err)
	}
	if l := owner(t, s, na, "", p, ""); !l.Unknown {
		t.Errorf("A's old number = %+v; want nobody's", l)
	}
	owner(t, s, na2, "", p, ca.ID)
	c := newAgency(t, s, &SMSIdentity{Numbers: []string{na}})
	cc := mustClient(t, s, c, p)
	owner(t, s, na, "", p, cc.ID)
	owner(t, s, na2, "", p, ca.ID)

	// SaveAgency (settings) keeps the identity it was not given.
	stale := *a
	stale.SMS, stale.QuietStart = nil, "22:00"
	if err := s.SaveAgency(t.Context(), &stale); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Agency(t.Context(), a.ID); err != nil || got.SMS == nil || got.SMS.Numbers[0] != na2 || got.QuietStart != "22:00" {
		t.Errorf("agency after a settings save = %+v, %v; want the identity kept", got, err)
	}
}

func testIdentityClaims(t *testing.T, s *Store) {
	ctx := t.Context()
	s.smsNumber = defaultNumber
	na, nb := phone(), phone()
	a := newAgency(t, s, &SMSIdentity{Numbers: []string{na}})
	b := newAgency(t, s, nil)
	for _, id := range []SMSIdentity{
		{Numbers: []string{na}},
		{Numbers: []string{nb, na}}, // nb is claimed first, then let go
		{Numbers: []string{defaultNumber}},
	} {
		if old, saved, err := s.SetSMSIdentity(ctx, b.ID, id); !errors.Is(err, ErrConflict) || saved || old != nil {
			t.Errorf("claim %v = %v, saved %t, %v; want ErrConflict, nothing saved", id, old, saved, err)
		}
	}
	if got, _ := s.Agency(ctx, b.ID); got.SMS != nil {
		t.Errorf("B after refused claims = %+v; want no identity", got.SMS)
	}
	// nb was let go: another can claim it.
	c := newAgency(t, s, &SMSIdentity{Numbers: []string{nb}})
	// A claims again what it has, plus more: fine, and idempotent.
	for range 2 {
		old, saved, err := s.SetSMSIdentity(ctx, a.ID, SMSIdentity{Numbers: []string{na, phone()}})
		if err != nil || !saved || old == nil {
			t.Errorf("A repeating its claim = %v, %t, %v", old, saved, err)
		}
	}
	if old, _, err := s.SetSMSIdentity(ctx, c.ID, SMSIdentity{Numbers: []string{na}}); !errors.Is(err, ErrConflict) {
		t.Errorf("C claiming A's number = %v, %v; want ErrConflict", old, err)
	}

	// Phones: two own identities share nothing; within one, one active person.
	p := phone()
	mustClient(t, s, a, p)
	mustClient(t, s, c, p)
	if _, err := newClient(t, s, a, p); !errors.Is(err, ErrConflict) {
		t.Errorf("a second active person on a phone within A = %v; want ErrConflict", err)
	}
	cm := &CaseManager{AgencyID: c.ID, Name: "CM", Phone: p}
	if err := s.CreateCaseManager(ctx, cm); !errors.Is(err, ErrConflict) {
		t.Errorf("C's case manager on C's client's phone = %v; want ErrConflict", err)
	}
	// Agencies on the default keep one active person per phone among them.
	d, e := newAgency(t, s, nil), newAgency(t, s, nil)
	q := phone()
	mustClient(t, s, d, q)
	if _, err := newClient(t, s, e, q); !errors.Is(err, ErrConflict) {
		t.Errorf("another default agency's client on a phone held in the default = %v; want ErrConflict", err)
	}
	// ...and an agency with its own identity is not refused for it.
	mustClient(t, s, a, q)
}

func testIdentityMovesPeople(t *testing.T, s *Store) {
	ctx := t.Context()
	s.smsNumber = defaultNumber
	a := newAgency(t, s, nil)
	p, staff := phone(), phone()
	ca := mustClient(t, s, a, p)
	cm := &CaseManager{AgencyID: a.ID, Name: "CM", Phone: staff}
	if err := s.CreateCaseManager(ctx, cm); err != nil {
		t.Fatal(err)
	}
	b := newAgency(t, s, nil)
	if _, err := newClient(t, s, b, p); !errors.Is(err, ErrConflict) {
		t.Fatalf("B on A's client's phone while both share the default = %v; want ErrConflict", err)
	}
	na := phone()
	if _, _, err := s.SetSMSIdentity(ctx, a.ID, SMSIdentity{Numbers: []string{na}}); err != nil {
		t.Fatal(err)
	}
	owner(t, s, na, "", p, ca.ID)
	owner(t, s, na, "", staff, cm.ID)
	owner(t, s, defaultNumber, "", p, "")
	// The default space no longer holds A's people: B may take the phone.
	cb := mustClient(t, s, b, p)
	owner(t, s, defaultNumber, "", p, cb.ID)
	owner(t, s, na, "", p, ca.ID)

	// A binding from before the identity that was not moved (a person
	// created while the move ran) is still found, and still counts against
	// A's own people, not against anyone else's.
	late, r := &Client{AgencyID: a.ID, Name: "Late", Channel: "sms", Timezone: "UTC", Language: "en"}, phone()
	if err := s.CreateClient(ctx, late); err != nil {
		t.Fatal(err)
	}
	lateOwner := Owner{Kind: "client", ID: late.ID, AgencyID: a.ID}
	if err := s.claimOwner(ctx, keyPhoneOwner(s.smsNumber, r), lateOwner); err != nil {
		t.Fatal(err)
	}
	withPhone := *late
	withPhone.Phone = r
	if err := s.rdb.Set(ctx, keyClient(late.ID), mustEncode(t, &withPhone), 0).Err(); err != nil {
		t.Fatal(err)
	}
	owner(t, s, na, "", r, late.ID)
	if _, err := newClient(t, s, a, r); !errors.Is(err, ErrConflict) {
		t.Errorf("A's second active person on a phone its unmoved one holds = %v; want ErrConflict", err)
	}
	c := newAgency(t, s, &SMSIdentity{Numbers: []string{phone()}})
	mustClient(t, s, c, r)
	// Setting the identity again finishes the move.
	if _, _, err := s.SetSMSIdentity(ctx, a.ID, SMSIdentity{Numbers: []string{na}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.rdb.Get(ctx, keyAgencyPhoneOwner(a.ID, r)).Result(); v != lateOwner.value() {
		t.Errorf("A's own space holds %q for the late person's phone; want them", v)
	}
	if n, _ := s.rdb.Exists(ctx, keyPhoneOwner(s.smsNumber, r)).Result(); n != 0 {
		t.Errorf("the default space still holds the late person's phone")
	}
}

func mustEncode(t *testing.T, c *Client) []byte {
	t.Helper()
	b, err := encodeClient(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
