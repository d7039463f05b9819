package escalation

import (
	"testing"
	"unicode/utf8"
)

// TestClip: a cut lands between words and says so with "..."; what fits
// is untouched; a single over-long word is cut inside rather than lost.
func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"crisis language", 40, "crisis language"},
		{"crisis language, PHQ-9 item 9 = 2", 26, "crisis language, PHQ-9..."},
		{"crisis language, PHQ-9 item 9 = 2", 20, "crisis language..."},
		{"crisis language, PHQ-9 item 9 = 2", 18, "crisis language..."},
		{"crisis language, PHQ-9 item 9 = 2", 17, "crisis..."},
		{"crisis language", 15, "crisis language"},
		{"crisis language", 14, "crisis..."},
		{"Maximiliana-Alexandra", 12, "Maximilia..."},
		{"baja autoestima, sueño", 20, "baja autoestima..."},
		{"abc", 2, "ab"},
	} {
		got := clip(c.in, c.n)
		if got != c.want {
			t.Errorf("clip(%q, %d) = %q; want %q", c.in, c.n, got, c.want)
		}
		if utf8.RuneCountInString(got) > c.n {
			t.Errorf("clip(%q, %d) = %q: %d characters; want ≤ %d", c.in, c.n, got, utf8.RuneCountInString(got), c.n)
		}
	}
}
