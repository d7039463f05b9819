package questionnaire

import "testing"

// The bands cover every total from 0 to the instrument's maximum without a
// gap or an overlap, and scoring bands a total as the table says.
func TestBandsCoverEveryTotal(t *testing.T) {
	for _, tc := range []struct {
		instrument string
		max        int
		band       func(int) string
	}{
		{InstrumentPHQ9, 27, phq9Band},
		{InstrumentGAD7, 21, gad7Band},
	} {
		bands := Bands(tc.instrument)
		next := 0
		for i, b := range bands {
			if b.Min != next || b.Max < b.Min {
				t.Errorf("%s band %d = %+v; want it to start at %d", tc.instrument, i, b, next)
			}
			for total := b.Min; total <= b.Max; total++ {
				if got := tc.band(total); got != b.Name {
					t.Errorf("%s total %d scored %q; table says %q", tc.instrument, total, got, b.Name)
				}
			}
			if BandRank(tc.instrument, b.Name) != i {
				t.Errorf("BandRank(%s, %q) = %d; want %d", tc.instrument, b.Name, BandRank(tc.instrument, b.Name), i)
			}
			next = b.Max + 1
		}
		if next != tc.max+1 {
			t.Errorf("%s bands end at %d; want %d", tc.instrument, next-1, tc.max)
		}
	}
	if Bands(InstrumentMood) != nil || BandRank(InstrumentMood, BandMild) != -1 {
		t.Error("mood has bands; want none")
	}
	b := Bands(InstrumentPHQ9)
	b[0].Name = "changed"
	if Bands(InstrumentPHQ9)[0].Name != BandMinimal {
		t.Error("Bands hands out the package's own table")
	}
}
