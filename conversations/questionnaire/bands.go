package questionnaire

import "slices"

// Band is one severity band of an instrument's total: the totals from Min
// to Max, both included.
type Band struct {
	Name     string `json:"name"`
	Min, Max int
}

// The severity bands of the PHQ-9 and GAD-7 totals (CLINICAL.md), lowest
// first. Scoring, reports and charts all read these.
var (
	phq9Bands = []Band{
		{BandMinimal, 0, 4}, {BandMild, 5, 9}, {BandModerate, 10, 14}, {BandModeratelySevere, 15, 19}, {BandSevere, 20, 27},
	}
	gad7Bands = []Band{
		{BandMinimal, 0, 4}, {BandMild, 5, 9}, {BandModerate, 10, 14}, {BandSevere, 15, 21},
	}
)

// Bands returns the severity bands of an instrument's total, lowest first:
// InstrumentPHQ9 and InstrumentGAD7 have them, every other instrument nil.
// The slice is the caller's own.
func Bands(instrument string) []Band {
	switch instrument {
	case InstrumentPHQ9:
		return slices.Clone(phq9Bands)
	case InstrumentGAD7:
		return slices.Clone(gad7Bands)
	}
	return nil
}

// BandRank is the position of band among the instrument's bands (0 the
// lowest), or -1 when it is none of them.
func BandRank(instrument, band string) int {
	for i, b := range Bands(instrument) {
		if b.Name == band {
			return i
		}
	}
	return -1
}

// BandOf is the instrument's band of a total, "" for an instrument
// without bands.
func BandOf(instrument string, total int) string {
	bands := Bands(instrument)
	if bands == nil {
		return ""
	}
	return bandOf(bands, total)
}

// bandOf is the band holding total (the highest band above its range).
func bandOf(bands []Band, total int) string {
	for _, b := range bands {
		if total <= b.Max {
			return b.Name
		}
	}
	return bands[len(bands)-1].Name
}
