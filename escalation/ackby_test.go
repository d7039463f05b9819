package escalation

import (
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// told lists the jobs queued on the normal stream, by message id.
func told(t *testing.T, st *store.Store) map[string]*bot.Job {
	msgs, err := st.Redis().XRange(t.Context(), "{q}:stream", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*bot.Job{}
	for _, m := range msgs {
		p, _ := m.Values["p"].(string)
		if j, ok := bot.DecodeJob([]byte(p)); ok {
			out[j.Msg.ID] = j
		}
	}
	return out
}

// An SMS "ack:<id>" takes only an escalation the sender was alerted on: the
// backup, not yet alerted, gets the help reply and nothing changes; once
// the policy reached them it takes it, the audit says "via sms", and the
// case manager alerted before is told who took it (initials, short id, no
// client words), the backup is not.
func TestAckByIDOnlyAfterAnAlert(t *testing.T) {
	r := newStepRig(t, step(NotifyAssigned, 5*time.Minute), step(NotifyBackup, 10*time.Minute))
	st, svc, a, cm, c := r.st, r.svc, r.a, r.cm, r.c
	ctx := t.Context()
	backup := &store.CaseManager{AgencyID: a.ID, Name: "Lee Okafor", Phone: "+13125550112"}
	if err := st.CreateCaseManager(ctx, backup); err != nil {
		t.Fatal(err)
	}
	withBackup := *cm
	withBackup.BackupID = backup.ID
	if err := st.UpdateCaseManager(ctx, cm, &withBackup); err != nil {
		t.Fatal(err)
	}
	e, err := svc.Raise(ctx, a, c, crisisSignal, "client:"+c.ID)
	if err != nil {
		t.Fatal(err)
	}

	for _, text := range []string{"ack:" + e.ID, "ACK 1", "ACK"} {
		reply, err := svc.StaffReply(ctx, backup, text, "sms")
		if err != nil || reply != StaffHelp {
			t.Errorf("not-alerted backup's %q = %q, %v; want the help reply", text, reply, err)
		}
	}
	if got, _ := st.Escalation(ctx, a.ID, e.ID); got.Status != store.EscOpen {
		t.Fatalf("escalation %s after ACKs from someone never alerted; want open", got.Status)
	}

	if err := svc.HandleStep(ctx, StepWork{Kind: StepKind, Agency: a.ID, ID: e.ID, Round: 0, Step: 1}); err != nil {
		t.Fatal(err)
	}
	reply, err := svc.StaffReply(ctx, backup, "ack:"+e.ID, "sms")
	if err != nil || !strings.Contains(reply, "acknowledged") {
		t.Fatalf("alerted backup's ack:<id> = %q, %v; want it acknowledged", reply, err)
	}
	got, err := st.Escalation(ctx, a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := got.Audit[len(got.Audit)-1]
	if got.Status != store.EscAcknowledged || last.Actor != "staff:"+backup.ID || last.Detail != "via sms" {
		t.Errorf("escalation %s, last audit %+v; want acknowledged by %s via sms", got.Status, last, backup.ID)
	}

	jobs := told(t, st)
	j := jobs["taken:"+e.ID+":"+cm.ID+":sms"]
	if j == nil {
		t.Fatalf("the case manager was not told who took it; queued: %v", jobs)
	}
	want := TakenText("L.O.", ShortID(e.ID))
	if j.Msg.Text != want || j.Msg.To != cm.Phone {
		t.Errorf("told %s %q; want %q to %s", j.Msg.To, j.Msg.Text, want, cm.Phone)
	}
	if len(j.Msg.Text) > 160 || strings.Contains(j.Msg.Text, "overdose") || strings.Contains(j.Msg.Text, c.Name) {
		t.Errorf("taken notice %q: want one segment, no client words or name", j.Msg.Text)
	}
	if _, self := jobs["taken:"+e.ID+":"+backup.ID+":sms"]; self {
		t.Error("the backup was told they took it themselves")
	}
}

// The audit names the channel an acknowledgement came by.
func TestAckAuditNamesTheChannel(t *testing.T) {
	for _, via := range []string{"sms", "telegram", "telegram button"} {
		r := newStepRig(t, step(NotifyAssigned, 5*time.Minute))
		e, err := r.svc.Raise(t.Context(), r.a, r.c, crisisSignal, "client:"+r.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.StaffReply(t.Context(), r.cm, "ack:"+e.ID, via); err != nil {
			t.Fatal(err)
		}
		got, _ := r.st.Escalation(t.Context(), r.a.ID, e.ID)
		if last := got.Audit[len(got.Audit)-1]; last.Action != "acknowledged" || last.Detail != "via "+via {
			t.Errorf("ack via %s: last audit %+v; want acknowledged, via %s", via, last, via)
		}
	}
}

// An alert_names agency names the acknowledger in full.
func TestTakenNamesPerAgencySetting(t *testing.T) {
	r := newStepRig(t, step(NotifyAssigned, 5*time.Minute))
	ctx := t.Context()
	r.a.AlertNames = true
	if got := acknowledger(ctx, r.svc.store, r.a, "staff:"+r.cm.ID); got != r.cm.Name {
		t.Errorf("acknowledger with alert_names = %q; want %q", got, r.cm.Name)
	}
	r.a.AlertNames = false
	if got := acknowledger(ctx, r.svc.store, r.a, "staff:"+r.cm.ID); got != initials(r.cm.Name) {
		t.Errorf("acknowledger without alert_names = %q; want %q", got, initials(r.cm.Name))
	}
}
