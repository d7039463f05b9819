package escalation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
)

// A crisis whose policy starts with a deactivated case manager skips them
// at once: the backup is alerted, the audit says why, the deactivated
// person holds no ACK code and their "ACK" takes nothing.
func TestDeactivatedCaseManagerIsSkipped(t *testing.T) {
	r := newStepRig(t, step(NotifyAssigned, 5*time.Minute), step(NotifyBackup, 10*time.Minute))
	st, svc, a, cm, c := r.st, r.svc, r.a, r.cm, r.c
	ctx := t.Context()
	backup := &store.CaseManager{AgencyID: a.ID, Name: "Lee", Phone: "+13125550112"}
	if err := st.CreateCaseManager(ctx, backup); err != nil {
		t.Fatal(err)
	}
	withBackup := *cm
	withBackup.BackupID = backup.ID
	if err := st.UpdateCaseManager(ctx, cm, &withBackup); err != nil {
		t.Fatal(err)
	}
	gone := st.DeactivateCaseManager(&withBackup)
	if err := st.UpdateCaseManager(ctx, &withBackup, gone); err != nil {
		t.Fatal(err)
	}

	e, err := svc.Raise(ctx, a, c, crisisSignal, "client:"+c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Escalation(ctx, a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, en := range got.Audit {
		details = append(details, en.Action+": "+en.Detail)
	}
	if !slices.ContainsFunc(details, func(d string) bool { return strings.Contains(d, cm.ID+" is deactivated: step skipped") }) {
		t.Errorf("audit = %q; want %q", details, cm.ID+" is deactivated: step skipped")
	}
	ids := queued(t, st)
	if n := queuedAlerts(t, st, "alert:"+e.ID+":0:1:"+backup.ID+":sms"); n != 1 {
		t.Errorf("backup's alert queued %d times; want 1 (queued: %v)", n, ids)
	}
	for _, id := range ids {
		if strings.Contains(id, cm.ID) {
			t.Errorf("queued %s to the deactivated case manager", id)
		}
	}
	if slices.Contains(got.Alerted, cm.ID) || !slices.Contains(got.Alerted, backup.ID) {
		t.Errorf("alerted = %v; want the backup %s only", got.Alerted, backup.ID)
	}
	if got.Step != 1 {
		t.Errorf("escalation on step index %d; want 1 (the backup's)", got.Step)
	}

	reply, err := svc.StaffReply(ctx, gone, "ACK", "sms")
	if err != nil {
		t.Fatal(err)
	}
	if reply != StaffDeactivated {
		t.Errorf("deactivated staff's ACK answered %q; want %q", reply, StaffDeactivated)
	}
	if after, _ := st.Escalation(ctx, a.ID, e.ID); after.Status != store.EscOpen {
		t.Errorf("escalation %s after a deactivated person's ACK; want still open", after.Status)
	}
	// The backup's ACK takes it: their code is theirs alone.
	bm, _ := st.CaseManager(ctx, a.ID, backup.ID)
	if reply, err := svc.StaffReply(ctx, bm, "ACK", "sms"); err != nil || strings.Contains(reply, "No open alert") {
		t.Errorf("backup's ACK = %q, %v; want it acknowledged", reply, err)
	}
}
