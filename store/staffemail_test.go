package store

import (
	"context"
	"errors"

	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func staffEmailScenarios() []scenario {
	return []scenario{
		{"people/a staff email is unique per agency only", testStaffEmailPerAgency},
	}
}

// commandLog records the commands a store sends while on.
type commandLog struct {
	mu   sync.Mutex
	on   bool
	cmds [][]string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}
func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmd redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return
	}
	var args []string
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok {
			args = append(args, s)
		}
	}
	l.cmds = append(l.cmds, args)
}

// take stops recording and returns what was sent, with the given strings
// (ids, emails) replaced by placeholders.
func (l *commandLog) take(replace ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	r := strings.NewReplacer(replace...)
	var out []string
	for _, c := range l.cmds {
		out = append(out, r.Replace(strings.Join(c, " ")))
	}
	l.cmds = nil
	return out
}

func (l *commandLog) start() { l.mu.Lock(); l.on = true; l.mu.Unlock() }

// testStaffEmailPerAgency: two agencies register the same staff email and
// neither is refused; registering it reads nothing of the other agency (the
// same commands whether another agency holds the email or nobody does);
// the sign-in lookup finds both, and a changed email lets its agency go.
func testStaffEmailPerAgency(t *testing.T, s *Store) {
	ctx := t.Context()
	var ags []*Agency
	for _, name := range []string{"North", "South", "East"} {
		a := &Agency{Name: name, Timezone: "America/Chicago"}
		if _, err := s.CreateAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
		ags = append(ags, a)
	}
	north, south, east := ags[0], ags[1], ags[2]
	a := &CaseManager{AgencyID: north.ID, Name: "Sam", Email: "sam@example.org"}
	if err := s.CreateCaseManager(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCaseManager(ctx, &CaseManager{AgencyID: north.ID, Name: "Sam 2", Email: "sam@example.org"}); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("the same email twice in one agency = %v; want ErrEmailTaken", err)
	}

	log := &commandLog{}
	s.rdb.AddHook(log)
	log.start()
	b := &CaseManager{AgencyID: south.ID, Name: "Sam", Email: "sam@example.org"}
	if err := s.CreateCaseManager(ctx, b); err != nil {
		t.Fatalf("the same email in another agency = %v; want it stored", err)
	}
	held := log.take(south.ID, "AG", b.ID, "CM", "sam@example.org", "EMAIL")
	log.start()
	c := &CaseManager{AgencyID: east.ID, Name: "Kim", Email: "kim@example.org"}
	if err := s.CreateCaseManager(ctx, c); err != nil {
		t.Fatal(err)
	}
	free := log.take(east.ID, "AG", c.ID, "CM", "kim@example.org", "EMAIL")
	if len(held) == 0 {
		t.Fatal("no commands recorded")
	}
	for _, cmd := range held {
		if strings.Contains(cmd, north.ID) || strings.Contains(cmd, a.ID) {
			t.Errorf("registering the email in South sent %q, which names North", cmd)
		}
	}
	// The record's JSON differs (name, time); compare the commands and keys.
	words := func(cmds []string) []string {
		var out []string
		for _, c := range cmds {
			f := strings.Fields(c)
			out = append(out, strings.Join(f[:min(2, len(f))], " "))
		}
		return out
	}
	if !slices.Equal(words(held), words(free)) {
		t.Errorf("commands when another agency holds the email:\n%v\nwhen nobody does:\n%v", words(held), words(free))
	}

	owners, err := s.StaffByEmail(ctx, "sam@example.org")
	// In the order of the agencies' ids (two made in one millisecond may
	// come in either order).
	want := []string{a.ID, b.ID}
	if south.ID < north.ID {
		want = []string{b.ID, a.ID}
	}
	if err != nil || len(owners) != 2 || owners[0].ID != want[0] || owners[1].ID != want[1] {
		t.Errorf("StaffByEmail = %+v, %v; want %v", owners, err, want)
	}
	// South's Sam changes email: only North's remains under the old one.
	nb := *b
	nb.Email = "sam.s@example.org"
	if err := s.UpdateCaseManager(ctx, b, &nb); err != nil {
		t.Fatal(err)
	}
	owners, err = s.StaffByEmail(ctx, "sam@example.org")
	if err != nil || len(owners) != 1 || owners[0].ID != a.ID {
		t.Errorf("StaffByEmail after South's change = %+v, %v; want North's only", owners, err)
	}
	if n, _ := s.rdb.SCard(ctx, keyEmailAgencies("sam@example.org")).Result(); n != 1 {
		t.Errorf("agencies listed under the old email = %d; want 1", n)
	}
	// A binding made before emails were per agency is still found.
	old := Owner{Kind: "staff", ID: c.ID, AgencyID: east.ID}
	if err := s.rdb.Set(ctx, keyStaffEmail("legacy@example.org"), old.value(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if owners, err := s.StaffByEmail(ctx, "legacy@example.org"); err != nil || len(owners) != 1 || owners[0].ID != c.ID {
		t.Errorf("StaffByEmail of a legacy binding = %+v, %v", owners, err)
	}
	if _, err := s.StaffByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("StaffByEmail of nobody = %v; want ErrNotFound", err)
	}
}
