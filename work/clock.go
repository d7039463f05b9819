package work

import "time"

// Clock is the runner's time: when to move due work, when to reclaim, and
// when an item's deadline passes. Tests inject one they move by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed; stop cancels it and reports
	// whether that prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Tick delivers the time every d until stop is called.
	Tick(d time.Duration) (c <-chan time.Time, stop func())
}

// realClock is the wall clock with the store's notion of now (which may be
// shifted for the demo and the stories).
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time { return c.now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

func (realClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
