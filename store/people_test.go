package store

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func peopleScenarios() []scenario {
	return []scenario{
		{"people/agency and api key", testAgencyAndKey},
		{"people/agency changes at once all stay", testAgencyChangesAtOnce},
		{"people/a number has one active owner", testOwnerConflict},
		{"people/a discharged client's number is taken over", testOwnerTakeover},
		{"people/link codes are single use", testLinkCodeSingleUse},
		{"people/lists page through every client", testClientPages},
	}
}

func testAgencyAndKey(t *testing.T, s *Store) {
	ctx := t.Context()
	a := &Agency{Name: "Northside", Timezone: "America/Chicago"}
	key, err := s.CreateAgency(ctx, a)
	if err != nil {
		t.Fatalf("create agency: %v", err)
	}
	id, err := s.AgencyForKey(ctx, key)
	if err != nil || id != a.ID {
		t.Errorf("agency for key = %q, %v; want %q", id, err, a.ID)
	}
	if _, err := s.AgencyForKey(ctx, key+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("agency for a wrong key = %v; want ErrNotFound", err)
	}
	got, err := s.Agency(ctx, a.ID)
	if err != nil || got.Name != "Northside" {
		t.Errorf("agency = %+v, %v", got, err)
	}
	a.QuietStart = "22:00"
	if err := s.SaveAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAgency(ctx, &Agency{ID: "ag_missing"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("saving an unknown agency = %v; want ErrNotFound", err)
	}
}

// testAgencyChangesAtOnce: an admin changing quiet hours in the console and
// a script setting phrases through the API at the same moment both keep
// their change; a change refused by its rule writes nothing.
func testAgencyChangesAtOnce(t *testing.T, s *Store) {
	ctx := t.Context()
	a := &Agency{Name: "Northside", Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	const n = 20
	errs, appended := make(chan error, 2*n), make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := s.UpdateAgency(ctx, a.ID, func(ag *Agency) error {
				ag.QuietStart = "22:00"
				ag.SessionIdle = Duration(time.Duration(10+i) * time.Minute)
				return nil
			})
			errs <- err
		}()
		go func() {
			_, _, err := s.UpdateAgency(ctx, a.ID, func(ag *Agency) error {
				ag.Phrases = append(ag.Phrases, Phrase{Text: "phrase", Level: "concern", Lang: "en"})
				return nil
			})
			appended <- err
		}()
	}
	kept := 0
	for range n {
		if err := <-errs; err != nil && !errors.Is(err, ErrChanged) {
			t.Fatalf("update agency: %v", err)
		}
		err := <-appended
		if err != nil && !errors.Is(err, ErrChanged) {
			t.Fatalf("update agency: %v", err)
		}
		if err == nil {
			kept++
		}
	}
	got, err := s.Agency(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every phrase added by a change that succeeded is there: none was
	// written over by a change of another setting read before it.
	if got.QuietStart != "22:00" || got.SessionIdle == 0 || kept == 0 || len(got.Phrases) != kept {
		t.Errorf("after changes at once: quiet start %q, idle %v, %d phrases; want 22:00, set, %d phrases", got.QuietStart, got.SessionIdle, len(got.Phrases), kept)
	}
	refused := errors.New("refused")
	if _, _, err := s.UpdateAgency(ctx, a.ID, func(ag *Agency) error {
		ag.QuietStart = "01:00"
		return refused
	}); !errors.Is(err, refused) {
		t.Errorf("a refused change = %v; want its error", err)
	}
	if again, _ := s.Agency(ctx, a.ID); again.QuietStart != "22:00" {
		t.Errorf("a refused change wrote quiet start %q", again.QuietStart)
	}
	if _, _, err := s.UpdateAgency(ctx, "ag_missing", func(*Agency) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("changing an unknown agency = %v; want ErrNotFound", err)
	}
}

func testOwnerConflict(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	other := &Client{AgencyID: a.ID, Name: "Other", Phone: c.Phone, Channel: "sms", Timezone: "America/Chicago", Language: "en"}
	if err := s.CreateClient(ctx, other); !errors.Is(err, ErrConflict) {
		t.Errorf("second active client with the same number = %v; want ErrConflict", err)
	}
	cm := &CaseManager{AgencyID: a.ID, Name: "CM", Phone: c.Phone}
	if err := s.CreateCaseManager(ctx, cm); !errors.Is(err, ErrConflict) {
		t.Errorf("case manager with a client's number = %v; want ErrConflict", err)
	}
	// Another agency on the same sending number: still one owner.
	b := &Agency{Name: "Southside", Timezone: "America/Chicago"}
	if _, err := s.CreateAgency(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, &Client{AgencyID: b.ID, Name: "X", Phone: c.Phone, Channel: "sms", Timezone: "UTC", Language: "en"}); !errors.Is(err, ErrConflict) {
		t.Errorf("another agency's client with the same number = %v; want ErrConflict", err)
	}
	o, _, err := s.PhoneOwner(ctx, "", "", c.Phone)
	if err != nil || o.ID != c.ID || o.Kind != "client" || o.AgencyID != a.ID {
		t.Errorf("owner = %+v, %v; want the first client", o, err)
	}
	// A number change moves the binding.
	updated := *c
	updated.Phone = phone()
	if err := s.UpdateClient(ctx, c, &updated); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PhoneOwner(ctx, "", "", c.Phone); !errors.Is(err, ErrNotFound) {
		t.Errorf("old number still owned: %v", err)
	}
	if o, _, _ := s.PhoneOwner(ctx, "", "", updated.Phone); o.ID != c.ID {
		t.Errorf("new number owner = %+v; want the client", o)
	}
}

func testOwnerTakeover(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	discharged := *c
	discharged.Status = StatusDischarged
	if err := s.UpdateClient(ctx, c, &discharged); err != nil {
		t.Fatal(err)
	}
	// Discharged but still bound: a crisis text from the number is still screened.
	if o, _, _ := s.PhoneOwner(ctx, "", "", c.Phone); o.ID != c.ID {
		t.Errorf("after discharge the owner = %+v; want the discharged client until someone takes the number", o)
	}
	next := &Client{AgencyID: a.ID, Name: "Next", Phone: c.Phone, Channel: "sms", Timezone: "America/Chicago", Language: "en"}
	if err := s.CreateClient(ctx, next); err != nil {
		t.Fatalf("new client with a discharged client's number = %v; want it to take the number over", err)
	}
	if o, _, _ := s.PhoneOwner(ctx, "", "", c.Phone); o.ID != next.ID {
		t.Errorf("owner after takeover = %+v; want the new client", o)
	}
	// The new owner is active: the number is no longer free.
	if err := s.CreateClient(ctx, &Client{AgencyID: a.ID, Name: "Third", Phone: c.Phone, Channel: "sms", Timezone: "UTC", Language: "en"}); !errors.Is(err, ErrConflict) {
		t.Errorf("third client = %v; want ErrConflict", err)
	}
}

func testLinkCodeSingleUse(t *testing.T, s *Store) {
	ctx := t.Context()
	a, c := seedClient(t, s)
	code, err := s.NewLinkCode(ctx, Owner{Kind: "client", ID: c.ID, AgencyID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	parallel(8, func(int) {
		o, err := s.UseLinkCode(ctx, code)
		switch {
		case err == nil:
			wins.Add(1)
			if o.ID != c.ID || o.AgencyID != a.ID || o.Kind != "client" {
				t.Errorf("link code owner = %+v; want the client", o)
			}
		case !errors.Is(err, ErrNotFound):
			t.Errorf("use link code: %v", err)
		}
	})
	if wins.Load() != 1 {
		t.Errorf("a link code used at once by 8 chats worked %d times; want 1", wins.Load())
	}
	if _, err := s.UseLinkCode(ctx, code); !errors.Is(err, ErrNotFound) {
		t.Errorf("used code again = %v; want ErrNotFound", err)
	}
	if _, err := s.UseLinkCode(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty code = %v; want ErrNotFound", err)
	}
	if ttl, _ := s.rdb.TTL(ctx, keyLink("nonexistent")).Result(); ttl > 0 {
		t.Error("a missing code has a TTL")
	}
	code2, _ := s.NewLinkCode(ctx, Owner{Kind: "client", ID: c.ID, AgencyID: a.ID})
	if ttl, _ := s.rdb.TTL(ctx, keyLink(code2)).Result(); ttl <= 0 || ttl > LinkTTL {
		t.Errorf("link code TTL = %v; want (0, %v]", ttl, LinkTTL)
	}
	if err := s.BindTelegram(ctx, Owner{Kind: "client", ID: c.ID, AgencyID: a.ID}, "777"); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.ChatOwner(ctx, "777"); o.ID != c.ID {
		t.Errorf("telegram chat owner = %+v; want the client", o)
	}
}

func testClientPages(t *testing.T, s *Store) {
	ctx := t.Context()
	a, _ := seedClient(t, s)
	for range 7 {
		c := &Client{AgencyID: a.ID, Name: "C", Phone: phone(), Channel: "sms", Timezone: "UTC", Language: "en"}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // ids are time-ordered to the millisecond
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p, err := s.Clients(ctx, a.ID, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Items {
			if seen[c.ID] {
				t.Errorf("client %s listed twice", c.ID)
			}
			seen[c.ID] = true
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(seen) != 8 {
		t.Errorf("paged through %d clients; want 8", len(seen))
	}
}
