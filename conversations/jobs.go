package conversations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carecheck/carecheck/store"
)

// The work handlers of this package's kinds, registered with the runner in
// cmd/carecheck: each reads its payload and does the work, waiting out a
// client that another worker holds.

// CheckinJob is the handler of WorkCheckin (HandleCheckin).
func (k *Checkins) CheckinJob(ctx context.Context, it *store.Item) error {
	w, err := decodeWork(it, WorkCheckin)
	if err != nil {
		return err
	}
	return whenFree(ctx, k.store, it, func() error { return k.HandleCheckin(ctx, w) })
}

// TimeoutJob is the handler of WorkTimeout (HandleTimeout).
func (k *Checkins) TimeoutJob(ctx context.Context, it *store.Item) error {
	w, err := decodeWork(it, WorkTimeout)
	if err != nil {
		return err
	}
	return whenFree(ctx, k.store, it, func() error { return k.HandleTimeout(ctx, w) })
}

// ReminderJob is the handler of WorkReminder (HandleReminder).
func (k *Appointments) ReminderJob(ctx context.Context, it *store.Item) error {
	w, err := decodeWork(it, WorkReminder)
	if err != nil {
		return err
	}
	return whenFree(ctx, k.store, it, func() error { return k.HandleReminder(ctx, w) })
}

func decodeWork(it *store.Item, kind string) (Work, error) {
	w, ok := DecodeWork(it.Payload)
	if !ok || w.Kind != kind || w.Client == "" {
		return w, fmt.Errorf("read %s work: %w", kind, store.ErrUndecodable)
	}
	return w, nil
}

// Waiting out a busy client: a message in progress holds it for
// milliseconds, so the work is tried again in real time for up to a
// second; a client held longer gets the work planned again shortly (on the
// service clock, which the due set runs on) and this delivery is done.
const (
	busyTries = 40
	busyPause = 25 * time.Millisecond
	busyLater = 300 * time.Millisecond
)

func whenFree(ctx context.Context, st *store.Store, it *store.Item, do func() error) error {
	err := do()
	for try := 0; errors.Is(err, ErrBusy) && try < busyTries; try++ {
		t := time.NewTimer(busyPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("client busy: %w", context.Cause(ctx))
		case <-t.C:
		}
		err = do()
	}
	if !errors.Is(err, ErrBusy) {
		return err
	}
	if err := st.Schedule(ctx, it.ID, st.Now().Add(busyLater), it.Payload); err != nil {
		return fmt.Errorf("plan work again for a busy client: %w", err)
	}
	return nil
}

// SafetyQuestionJob is the handler of WorkSafetyQuestion (HandleSafetyQuestion).
func (i *Inbox) SafetyQuestionJob(ctx context.Context, it *store.Item) error {
	w, err := decodeWork(it, WorkSafetyQuestion)
	if err != nil {
		return err
	}
	return whenFree(ctx, i.store, it, func() error { return i.HandleSafetyQuestion(ctx, w) })
}
