package store

import "context"

// Observer is told of what the store has just recorded, after it is
// written (the outbound webhooks turn these into events). It is called on
// the writer's goroutine and must not block for long; what it does with
// a record is its own (a failure there never undoes the write).
type Observer interface {
	// Entries: events appended to a client's timeline (scores, missed
	// check-ins, STOP and START, …).
	Entries(ctx context.Context, clientID string, events []Event)
	// Escalation: an escalation opened (before is "") or changed status.
	Escalation(ctx context.Context, before string, e *Escalation)
}

// SetObserver sets who is told of records written; call it while wiring,
// before the store is in use.
func (s *Store) SetObserver(o Observer) { s.observer = o }

func (s *Store) observeEntries(ctx context.Context, clientID string, events []Event) {
	if s.observer != nil {
		s.observer.Entries(ctx, clientID, events)
	}
}

func (s *Store) observeEscalation(ctx context.Context, before string, e *Escalation) {
	if s.observer != nil {
		s.observer.Escalation(ctx, before, e)
	}
}
