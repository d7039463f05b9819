package escalation

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/carecheck/carecheck/store"
)

// StepJob is the work handler of StepKind (registered with the runner in
// cmd/carecheck): it reads an escalation timer and runs it (HandleStep).
func (s *Service) StepJob(ctx context.Context, it *store.Item) error {
	var w StepWork
	if err := json.Unmarshal(it.Payload, &w); err != nil || w.ID == "" || w.Agency == "" {
		return fmt.Errorf("read escalation timer: %w", store.ErrUndecodable)
	}
	return s.HandleStep(ctx, w)
}
