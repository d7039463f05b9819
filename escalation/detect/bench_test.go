package detect

import (
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDetect checks the ≤ 50 µs per message budget of both stages on
// typical inputs.
func BenchmarkDetect(b *testing.B) {
	d := mustNew(b)
	long := strings.Repeat("Work was long and the bus was late again, but I made it to group and talked about my week. ", 5) +
		"Honestly some nights I don't want to wake up."
	for _, bc := range []struct{ name, text, lang string }{
		{"sms", "feeling ok today, took my meds", "en"},
		{"sms-crisis", "i took all my pills i want to die", "en"},
		{"model-only", "put the dogs food by the door for my neighbor, shes keeping him from now on", "en"},
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

// BenchmarkDetectLatency times every call over the dev split (messages as
// clients write them, every level) and reports the 50th and 99th
// percentiles per call, the figures of the ≤ 50 µs p99 budget.
func BenchmarkDetectLatency(b *testing.B) {
	d := mustNew(b)
	c, err := loadCorpus(corpusFS)
	if err != nil {
		b.Fatal(err)
	}
	msgs := c.dev
	lat := make([]time.Duration, 0, b.N)
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		e := msgs[i%len(msgs)]
		i++
		start := time.Now()
		d.Detect(e.Text, e.Lang)
		lat = append(lat, time.Since(start))
	}
	// CPU time per call as well: the wall-clock percentiles on a shared
	// machine include the time other processes held the core.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(len(lat))/1000, "cpu-µs/op")
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
}

// BenchmarkNew shows the one-off cost of compiling the lexicon (the model
// is trained once per process, before the timer starts).
func BenchmarkNew(b *testing.B) {
	mustNew(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrain times one training and threshold choice from the embedded
// corpus (what the first New of a process pays), and reports the memory the
// trained model keeps: its weight tables, and the live heap one more model
// adds after a collection.
func BenchmarkTrain(b *testing.B) {
	lex := mustLexicon(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := buildModel(lex, defaultTrain)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := buildModel(lex, defaultTrain); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time, not wall time: on a shared machine the wall clock mostly
	// measures the neighbours.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(4*(len(m.lw)+len(m.cw)))/(1<<20), "weights-MiB")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MiB")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
