package escalation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

type nopSender struct{}

func (nopSender) Send(context.Context, bot.Outbound) (string, error) { return "SM1", nil }

// process is one CareCheck process's escalation service, with its own
// Redis connections.
func process(t *testing.T, rs *redistest.Server) (*store.Store, *Service) {
	st := store.New(rs.Client(t), nil)
	return st, serviceOn(st)
}

// serviceOn is the escalation service on a given store, sending SMS only.
func serviceOn(st *store.Store) *Service {
	ob := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: nopSender{}}, bot.Pacing{}, nil, nil)
	return NewService(st, ob, nil, nil)
}

func seed(t *testing.T, st *store.Store, clients int) (*store.Agency, *store.CaseManager, []*store.Client) {
	ctx := t.Context()
	a := &store.Agency{Name: "Northside", Timezone: "America/Chicago"}
	if _, err := st.CreateAgency(ctx, a); err != nil {
		t.Fatal(err)
	}
	cm := &store.CaseManager{AgencyID: a.ID, Name: "Dana", Phone: "+13125550111"}
	if err := st.CreateCaseManager(ctx, cm); err != nil {
		t.Fatal(err)
	}
	var cs []*store.Client
	for i := range clients {
		c := &store.Client{AgencyID: a.ID, Name: "Client", Phone: fmt.Sprintf("+1312555%04d", 200+i), Channel: "sms", Timezone: "America/Chicago",
			Language: "en", CaseManagerID: cm.ID, Consent: &store.Consent{At: time.Now(), Method: "written"}}
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return a, cm, cs
}

// queued lists the urgent stream's message ids.
func queued(t *testing.T, st *store.Store) []string {
	msgs, err := st.Redis().XRange(t.Context(), "{q}:urgent", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Values["id"].(string))
	}
	return ids
}

var crisisSignal = Signal{Level: Crisis, Reasons: []string{"crisis language: overdose"}}

// Crisis messages of one client handled by two processes at once: one
// escalation, one safety reply, one alert; every signal in the audit.
func TestSignalsRacingInTwoProcesses(t *testing.T) {
	rs := redistest.New(t)
	st1, p1 := process(t, rs)
	_, p2 := process(t, rs)
	a, _, cs := seed(t, st1, 1)
	c := cs[0]
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := p1
			if i%2 == 1 {
				p = p2
			}
			if _, err := p.Signal(t.Context(), a, c, crisisSignal, "client:"+c.ID, &Reply{Channel: bot.SMS, To: c.Phone, Key: fmt.Sprint("m", i)}); err != nil {
				t.Errorf("signal %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	page, err := st1.Escalations(t.Context(), a.ID, "", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("escalations = %d; want 1", len(page.Items))
	}
	e := page.Items[0]
	actions := map[string]int{}
	for _, en := range e.Audit {
		actions[en.Action]++
	}
	if actions["opened"] != 1 || actions["alert sent"] != 1 || actions["signal joined"] != n-1 {
		t.Errorf("audit = %v; want opened once, one alert, %d signals joined", actions, n-1)
	}
	ids := queued(t, st1)
	safety, alerts := 0, 0
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "send:safety:"):
			safety++
		case strings.HasPrefix(id, "send:alert:"):
			alerts++
		}
	}
	if safety != 1 || alerts != 1 {
		t.Errorf("queued %v; want one safety reply and one alert", ids)
	}
	if at, ok, _ := st1.ScheduledAt(t.Context(), "esc:"+e.ID+":0:1"); !ok || at.Sub(e.Opened) > 10*time.Minute || at.Sub(e.Opened) <= 10*time.Minute-time.Millisecond {
		t.Errorf("next step at %v (planned %v); want 10 minutes after opening", at, ok)
	}
	if e.Policy.Repeat != 3 || len(e.Policy.Steps) != 2 {
		t.Errorf("policy snapshot = %+v; want the default policy", e.Policy)
	}
}

// Two clients of one case manager in crisis at once, in two processes: the
// alerts carry codes 1 and 2, each bound to its own escalation.
func TestSignalsRacingTakeDistinctAckCodes(t *testing.T) {
	rs := redistest.New(t)
	st1, p1 := process(t, rs)
	_, p2 := process(t, rs)
	// Twenty clients of one case manager in crisis at once (a shared
	// trauma in a small caseload), across two processes.
	const n = 20
	a, cm, cs := seed(t, st1, n)
	var wg sync.WaitGroup
	for i := range n {
		p := []*Service{p1, p2}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Signal(t.Context(), a, cs[i], crisisSignal, "client:"+cs[i].ID, nil); err != nil {
				t.Errorf("signal: %v", err)
			}
		}()
	}
	wg.Wait()
	codes, err := st1.AckCodes(t.Context(), a.ID, cm.ID)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i := 1; i <= n; i++ {
		distinct[codes[fmt.Sprint(i)]] = true
	}
	if len(codes) != n || len(distinct) != n || distinct[""] {
		t.Fatalf("codes = %v; want 1 to %d, each bound to its own escalation", codes, n)
	}
	for code, id := range codes {
		e, err := st1.Escalation(t.Context(), a.ID, id)
		if err != nil || e.AckCode != code {
			t.Errorf("escalation %s: code %v, %v; want %s", id, e, err, code)
		}
	}
	// Each alert's text carries its own escalation's code.
	msgs, _ := st1.Redis().XRange(t.Context(), "{q}:urgent", "-", "+").Result()
	seen := map[string]bool{}
	for _, m := range msgs {
		job, ok := bot.DecodeJob([]byte(m.Values["p"].(string)))
		if !ok {
			t.Fatalf("undecodable job %v", m.Values)
		}
		for code := range codes {
			if strings.Contains(job.Msg.Text, "ACK "+code) {
				seen[code] = true
			}
		}
	}
	if len(seen) != n {
		t.Errorf("alert texts carry codes %v; want 1 to %d", seen, n)
	}
}
