package detect

import (
	"strings"
	"testing"
)

// BenchmarkDetect checks the ≤ 20 µs per message budget on typical inputs.
func BenchmarkDetect(b *testing.B) {
	d := mustNew(b)
	long := strings.Repeat("Work was long and the bus was late again, but I made it to group and talked about my week. ", 5) +
		"Honestly some nights I don't want to wake up."
	for _, bc := range []struct{ name, text, lang string }{
		{"sms", "feeling ok today, took my meds", "en"},
		{"sms-crisis", "i took all my pills i want to die", "en"},
		{"long-500", long[:500], "en"},
		{"spanish", "ya no aguanto más, me quiero morir y dejé mis pastillas", "es"},
		{"both-langs", "me siento fatal, i want to die", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.Detect(bc.text, bc.lang)
			}
		})
	}
}

// BenchmarkNew shows the one-off cost of compiling the lexicon.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}
