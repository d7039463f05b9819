package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/carecheck/carecheck/store"
)

// Source is where Gather reads: the store.
type Source interface {
	Clients(ctx context.Context, agencyID, cursor string, limit int) (store.Page[*store.Client], error)
	CaseManagers(ctx context.Context, agencyID, cursor string, limit int) (store.Page[*store.CaseManager], error)
	Escalations(ctx context.Context, agency, status, cursor string, limit int) (store.Page[*store.Escalation], error)
	Timelines(ctx context.Context, clientIDs []string, since, until time.Time) (map[string][]store.Entry, error)
}

var _ Source = (*store.Store)(nil)

// Need says which records a report reads.
type Need struct {
	// Entries: the clients' timelines (check-ins, worsening).
	Entries bool
	// Escalations: those opened in the period.
	Escalations bool
}

// Gather reads one agency's records for a period: its clients and case
// managers, and what need asks for. Nothing of another agency is read:
// every list is the agency's own.
func Gather(ctx context.Context, src Source, agencyID string, p Period, need Need) (*Records, error) {
	r := &Records{Period: p, Entries: map[string][]store.Entry{}}
	var err error
	if r.Clients, err = all(ctx, agencyID, src.Clients); err != nil {
		return nil, fmt.Errorf("report clients: %w", err)
	}
	if r.CaseManagers, err = all(ctx, agencyID, src.CaseManagers); err != nil {
		return nil, fmt.Errorf("report case managers: %w", err)
	}
	if need.Entries {
		var ids []string
		for _, c := range r.Clients {
			if c.Created.Before(p.End) {
				ids = append(ids, c.ID)
			}
		}
		if r.Entries, err = src.Timelines(ctx, ids, p.Start, p.End.Add(Settle)); err != nil {
			return nil, fmt.Errorf("report timelines: %w", err)
		}
	}
	if need.Escalations {
		// Newest first: stop at the first opened before the period.
		cursor := ""
		for {
			page, err := src.Escalations(ctx, agencyID, "", cursor, 200)
			if err != nil {
				return nil, fmt.Errorf("report escalations: %w", err)
			}
			done := page.Next == ""
			for _, e := range page.Items {
				if e.Opened.Before(p.Start) {
					done = true
					break
				}
				if p.Contains(e.Opened) {
					r.Escalations = append(r.Escalations, e)
				}
			}
			if done {
				break
			}
			cursor = page.Next
		}
	}
	return r, nil
}

// all reads every page of an agency's list.
func all[T any](ctx context.Context, agencyID string, list func(context.Context, string, string, int) (store.Page[T], error)) ([]T, error) {
	var out []T
	cursor := ""
	for {
		page, err := list(ctx, agencyID, cursor, 200)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}
