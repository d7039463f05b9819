package conversations

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/carecheck/carecheck/store"
)

// loadConversation reads a client's stored conversation; nothing stored is
// a new, inactive one in the client's language. A stored record that does
// not decode is an error, never taken for "no conversation": a caller that
// did so would overwrite it.
func loadConversation(raw []byte, c *store.Client) (*Conversation, error) {
	conv := &Conversation{Lang: c.Language}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, conv); err != nil {
			return nil, fmt.Errorf("decode conversation of client %s: %w", c.ID, err)
		}
	}
	if conv.Lang == "" {
		conv.Lang = "en"
	}
	return conv, nil
}

// drainer processes a client's pending messages.
type drainer interface {
	Drain(ctx context.Context, clientID, agencyID string) error
}

// holder runs timed work on a client while holding the client's processing
// lock, so that it never interleaves with the client's messages; messages
// that arrived meanwhile are processed (by inbox) when it is done.
type holder struct {
	store *store.Store
	inbox drainer
	log   *slog.Logger
}

// hold runs do with the client's lock taken by lock (nil: store.Lock). A
// lock held elsewhere is ErrBusy; a client or agency that no longer exists
// is nothing to do.
func (h *holder) hold(ctx context.Context, w Work, lock func() (*store.Batch, error), do func(b *store.Batch) error) error {
	if lock == nil {
		lock = func() (*store.Batch, error) { return h.store.Lock(ctx, w.Client, w.Agency) }
	}
	b, err := lock()
	if err != nil {
		return fmt.Errorf("lock client %s: %w", w.Client, err)
	}
	if !b.Locked {
		return ErrBusy
	}
	defer h.release(context.WithoutCancel(ctx), w.Client, w.Agency, b.Lock)
	if b.Client == nil || b.Agency == nil {
		return nil
	}
	return do(b)
}

// release ends a piece of timed work that held the client's lock. Messages
// that arrived meanwhile (Receive found the lock taken and left them to the
// holder) are processed at once, not left to the sweeper.
func (h *holder) release(ctx context.Context, clientID, agencyID, token string) {
	more, err := h.store.Unlock(ctx, clientID, token)
	if err != nil {
		h.log.Error("unlock client", "client_id", clientID, "err", err)
		return
	}
	if !more {
		return
	}
	if err := h.inbox.Drain(ctx, clientID, agencyID); err != nil {
		h.log.Error("process messages that arrived during timed work", "client_id", clientID, "err", err)
	}
}
