package detect

import (
	"encoding/csv"
	"os"
	"testing"
)

// TestEverydayReplies: plain check-in replies (chores, bills, work, "done",
// "over", a goodbye to a coworker; English, Spanish, Spanglish) must not
// reach crisis. The list in testdata/everyday.csv was written by hand before
// the model was tuned and is not tuned on: a row is changed only to fix a
// real misreading of the detector, never to make this test pass. The bound
// is hard: at most one of them may be read as crisis. How many get any
// alert is logged.
func TestEverydayReplies(t *testing.T) {
	f, err := os.Open("testdata/everyday.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d := mustNew(t)
	crisis, flagged := 0, 0
	for _, r := range recs[1:] {
		res := d.Detect(r[0], r[1])
		switch res.Level {
		case Crisis:
			crisis++
			t.Logf("crisis: %q %+v", r[0], res.Signals)
		case Concern:
			flagged++
			t.Logf("concern: %q %+v", r[0], res.Signals)
		}
	}
	n := len(recs) - 1
	t.Logf("%d everyday replies: %d read as crisis, %d as concern", n, crisis, flagged)
	if n < 60 {
		t.Fatalf("%d everyday replies; the list has 60", n)
	}
	if crisis > 1 {
		t.Errorf("%d of %d everyday replies read as crisis; want at most 1", crisis, n)
	}
}
