package bench

import (
	"context"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/store"
)

// CrisisResult is the crisis phase: crisis messages alone, then among normal traffic.
type CrisisResult struct {
	Background     StepResult
	Sent           int
	Alerts, Safety int  // delivered (want Sent each)
	Alert          Dist // crisis webhook due → alert to the case manager recorded
	SafetyLat      Dist // crisis webhook due → safety reply to the client recorded
	Webhook        Dist // the crisis webhooks themselves
	Errors         int
	Idle           int   // crises sent one at a time, nothing else running
	IdleAlerts     int   // their alerts recorded
	IdleAlert      Dist  // their crisis webhook → alert recorded
	IdleUse        Usage // per crisis message, alone
}

func (e *benchEnv) crisisPhase(ctx context.Context) (CrisisResult, error) {
	var res CrisisResult
	cfg := e.cfg
	st := e.svc.Store()
	bgN := max(1, int(float64(cfg.CrisisRate)*cfg.CrisisDur.Seconds()/2))
	g := gStep0 + 99
	phones, err := e.checkinPool(ctx, bgN, g)
	if err != nil {
		return res, err
	}
	bgReqs := e.loadMessages(phones)
	a, _, err := e.newAgency(ctx, st, "Bench Crisis")
	if err != nil {
		return res, err
	}
	m := max(1, int(cfg.CrisisDur/cfg.CrisisEvery))
	m0 := min(m, 20) // crises sent one at a time with nothing else running first
	clientPhones, staffPhones := e.phones("+1312", m+m0), e.phones("+1773", m+m0)
	e.obs.register(gCrisisClients, clientPhones[:m]...)
	e.obs.register(gCrisisStaff, staffPhones[:m]...)
	e.obs.register(gIdleClients, clientPhones[m:]...)
	e.obs.register(gIdleStaff, staffPhones[m:]...)
	now := e.clock.Now()
	// Each crisis client has a case manager of their own: each alert has its own phone.
	err = parallel(ctx, m+m0, 16, func(i int) error {
		cm := &store.CaseManager{AgencyID: a.ID, Name: "Bench Staff", Phone: staffPhones[i]}
		if err := st.CreateCaseManager(ctx, cm); err != nil {
			return err
		}
		return st.CreateClient(ctx, benchClient(a, cm.ID, clientPhones[i], "America/Chicago", now))
	})
	if err != nil {
		return res, err
	}
	crisis := make([]benchReq, m+m0)
	for i, p := range clientPhones {
		crisis[i] = e.signSMS(e.base, p, benchCrisis)
	}
	e.settle(ctx, e.admin)

	// Alone: the floor under the crisis path, and what it costs.
	i0 := e.snap(ctx)
	var idle []time.Duration
	for i := m; i < m+m0; i++ {
		t0 := time.Now()
		if code, err := e.post(ctx, crisis[i]); err != nil || code != http.StatusOK {
			res.Errors++
			continue
		}
		waitUntil(ctx, 10*time.Second, func() bool { return len(e.obs.seen(staffPhones[i], kAlert)) > 0 })
		if s := e.obs.seen(staffPhones[i], kAlert); len(s) > 0 {
			idle = append(idle, s[0].Sub(t0))
		}
		e.settle(ctx, e.admin)
	}
	i1 := e.snap(ctx)
	res.Idle, res.IdleAlerts, res.IdleAlert, res.IdleUse = m0, len(idle), distOf(idle), usageOf(i0, i1, float64(m0))
	crisis = crisis[:m]

	e.srvLat.take()
	s0 := e.snap(ctx)
	var bg *loadRun
	done := make(chan struct{})
	go func() { defer close(done); bg = e.openLoop(ctx, float64(cfg.CrisisRate), bgReqs) }()
	cr := e.openLoop(ctx, 1/cfg.CrisisEvery.Seconds(), crisis)
	<-done
	waitUntil(ctx, cfg.Wait, func() bool {
		return e.obs.count(gCrisisStaff, kAlert) >= m && e.obs.count(gCrisisClients, kSafety) >= m &&
			e.obs.count(g, kNote) >= bgN && e.obs.count(g, kThanks) >= bgN
	})
	e.settle(ctx, e.admin)
	s1 := e.snap(ctx)
	res.Sent = m
	res.Errors = cr.errors()
	res.Webhook = distOf(cr.lat)
	var alert, safety []time.Duration
	for i := range m {
		if s := e.obs.seen(staffPhones[i], kAlert); len(s) > 0 {
			res.Alerts++
			alert = append(alert, s[0].Sub(cr.due[i]))
		}
		if s := e.obs.seen(clientPhones[i], kSafety); len(s) > 0 {
			res.Safety++
			safety = append(safety, s[0].Sub(cr.due[i]))
		}
	}
	res.Alert, res.SafetyLat = distOf(alert), distOf(safety)
	b := &res.Background
	b.Rate, b.Msgs, b.Achieved, b.Errors, b.Lat, b.GenLag = cfg.CrisisRate, len(bgReqs), bg.achieved(), bg.errors(), distOf(bg.lat), bg.lag
	b.Held, b.Other = int(bg.held.Load()), e.obs.count(g, kOther)
	replies, got := e.replyLatencies(phones, bg)
	b.Reply, b.Replies = distOf(replies), got
	b.AllReplis = got == len(bgReqs)
	b.Use = usageOf(s0, s1, float64(len(bgReqs)+m))
	return res, nil
}
