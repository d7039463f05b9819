package escalation

import (
	"strings"
	"testing"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// A code left bound to an escalation that was acknowledged (the process
// stopped between the acknowledgement and releasing its codes) does not
// make the case manager's bare "ACK" ambiguous: it acknowledges the one
// alert still open, and the stale code is freed.
func TestBareAckIgnoresACodeLeftByAClosedEscalation(t *testing.T) {
	rs := redistest.New(t)
	st, svc := process(t, rs)
	a, cm, cs := seed(t, st, 2)
	first, err := svc.Raise(t.Context(), a, cs[0], crisisSignal, "client:"+cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := svc.Raise(t.Context(), a, cs[1], crisisSignal, "client:"+cs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	// The first is acknowledged in the console, and its code not released.
	if _, err := st.UpdateEscalation(t.Context(), a.ID, first.ID, func(x *store.Escalation) error {
		x.Status = store.EscAcknowledged
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if codes, _ := st.AckCodes(t.Context(), a.ID, cm.ID); len(codes) != 2 {
		t.Fatalf("codes = %v; want the stale one and the open one", codes)
	}

	reply, err := svc.StaffReply(t.Context(), cm, "ACK", "sms")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reply, "alert "+second.AckCode+" for") || !strings.Contains(reply, "acknowledged") {
		t.Errorf("reply to a bare ACK = %q; want the open alert acknowledged", reply)
	}
	got, err := st.Escalation(t.Context(), a.ID, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.EscAcknowledged || got.AckedBy != "staff:"+cm.ID {
		t.Errorf("open escalation status %q by %q; want acknowledged by the case manager", got.Status, got.AckedBy)
	}
	if codes, _ := st.AckCodes(t.Context(), a.ID, cm.ID); len(codes) != 0 {
		t.Errorf("codes left = %v; want none", codes)
	}
}
