package store

import "context"

// Observer is told of the events the store wrote to an outbox with their
// records (the outbound webhooks move them to the endpoints' queues). It is
// called on the writer's goroutine after the write and must not block for
// long; what it does is its own: the events wait in the outbox until it has
// moved them, whatever happens to this call.
type Observer interface {
	// Outboxed says which timeline event types ("score", "missed", …)
	// go to the client's outbox.
	Outboxed(eventType string) bool
	// Outbox: entries just written to an outbox, in order.
	Outbox(ctx context.Context, box Outbox, entries []OutboxEntry)
}

// SetObserver sets who is told of records written; call it while wiring,
// before the store is in use. Without one, no outbox is written.
func (s *Store) SetObserver(o Observer) { s.observer = o }

func (s *Store) observeOutbox(ctx context.Context, box Outbox, entries []OutboxEntry) {
	if s.observer != nil && len(entries) > 0 {
		s.observer.Outbox(ctx, box, entries)
	}
}

// eventType is a timeline event's "t".
func eventType(e Event) string {
	for i := 0; i+1 < len(e); i += 2 {
		if e[i] == "t" {
			return e[i+1]
		}
	}
	return ""
}
