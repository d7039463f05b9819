package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is one timeline entry of a client: an inbound message, an answer, a
// score, a missed or skipped check-in, a safety reply, an escalation.
type Entry struct {
	ID     string            `json:"id"`
	At     time.Time         `json:"at"`
	Type   string            `json:"type"`
	Fields map[string]string `json:"fields"`
}

// IsEntryID reports whether id has the form of a timeline entry's id (a
// Redis stream id, "<ms>-<seq>").
func IsEntryID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// Timeline reads a client's entries in time order within [since, until),
// after the cursor (an entry id).
func (s *Store) Timeline(ctx context.Context, clientID string, since, until time.Time, cursor string, limit int) (Page[Entry], error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	start := "-"
	if cursor != "" {
		start = "(" + cursor
	}
	var out []Entry
	next := ""
	for len(out) < limit {
		msgs, err := s.rdb.XRangeN(ctx, keyTimeline(clientID), start, "+", int64(limit)).Result()
		if err != nil {
			return Page[Entry]{}, fmt.Errorf("read timeline: %w", err)
		}
		for _, m := range msgs {
			e := decodeEntry(m)
			if (!since.IsZero() && e.At.Before(since)) || (!until.IsZero() && !e.At.Before(until)) {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				next = e.ID
				break
			}
		}
		if len(msgs) < limit {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	if out == nil {
		out = []Entry{}
	}
	if err := s.answerTexts(ctx, clientID, out); err != nil {
		return Page[Entry]{}, err
	}
	return Page[Entry]{Items: out, Next: next}, nil
}

// EntriesBefore reads up to n of a client's entries up to and including
// the entry id (or a time in unix milliseconds, as "<ms>"), newest first,
// answers with their texts.
func (s *Store) EntriesBefore(ctx context.Context, clientID, until string, n int64) ([]Entry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, keyTimeline(clientID), until, "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, decodeEntry(m))
	}
	if err := s.answerTexts(ctx, clientID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// answerTexts fills in the text of answers stored as a reference to the
// inbound message they came from ("msg", no "text": the text is stored once,
// in the message's own entry; answers hold it trimmed). The message is usually on the same page;
// the others are read in one round trip.
func (s *Store) answerTexts(ctx context.Context, clientID string, page []Entry) error {
	texts := map[string]string{}
	var missing []string
	for _, e := range page {
		if e.Type == "in" {
			texts[e.ID] = strings.TrimSpace(e.Fields["x"])
		}
	}
	for _, e := range page {
		ref := e.Fields["msg"]
		if e.Type != "answer" || ref == "" || e.Fields["text"] != "" {
			continue
		}
		if _, ok := texts[ref]; !ok {
			texts[ref] = ""
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		msgs, err := s.messages(ctx, clientID, missing)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			texts[m.ID] = strings.TrimSpace(m.Text)
		}
	}
	for i, e := range page {
		if ref := e.Fields["msg"]; e.Type == "answer" && ref != "" && e.Fields["text"] == "" && texts[ref] != "" {
			page[i].Fields["text"] = texts[ref]
		}
	}
	return nil
}

// toEntry reads an entry stored flat (before entries were packed, or one
// the packing cannot hold).
func toEntry(m redis.XMessage) Entry {
	e := Entry{ID: m.ID, Fields: map[string]string{}}
	for k, v := range m.Values {
		sv, _ := v.(string)
		switch k {
		case "t":
			e.Type = sv
		case "at":
			ms, _ := strconv.ParseInt(sv, 10, 64)
			e.At = time.UnixMilli(ms).UTC()
		default:
			e.Fields[k] = sv
		}
	}
	return e
}

// RecentScores returns the totals of one instrument's scores in a client's
// timeline since a time, newest first (the mood rule compares with the
// client's own 7-day median). It reads backwards from the newest entry.
func (s *Store) RecentScores(ctx context.Context, clientID, instrument string, since time.Time) ([]int, error) {
	// Entry ids are never earlier than the entry's time (scripts/entryid.lua),
	// so the range can stop at since: a client with years of history sends
	// back a week of entries, not the newest 500.
	msgs, err := s.rdb.XRevRangeN(ctx, keyTimeline(clientID), "+", strconv.FormatInt(since.UnixMilli(), 10), 500).Result()
	if err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	return scoresOf(msgs, instrument, since), nil
}

// scoresOf picks an instrument's totals since a time from timeline entries
// read newest first.
func scoresOf(msgs []redis.XMessage, instrument string, since time.Time) []int {
	var out []int
	for _, m := range msgs {
		e := decodeEntry(m)
		if e.At.Before(since) {
			break
		}
		if e.Type != "score" || e.Fields["instrument"] != instrument {
			continue
		}
		if n, err := strconv.Atoi(e.Fields["total"]); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// Timelines reads the timeline entries of several clients whose time is in
// [since, until), in time order, by client id; a client without entries
// there has none in the map. One pipelined round trip per batch of
// clients. Answers hold their text only by reference (Timeline fills it in):
// reports count entries and read scores, not what was written.
func (s *Store) Timelines(ctx context.Context, clientIDs []string, since, until time.Time) (map[string][]Entry, error) {
	const batch = 200
	out := map[string][]Entry{}
	// An entry's id is never earlier than its time, and in practice equal:
	// the range starts at since and ends a little after until, and each
	// entry is then kept by its own time.
	lo := strconv.FormatInt(since.UnixMilli(), 10)
	hi := strconv.FormatInt(until.Add(time.Hour).UnixMilli(), 10)
	for i := 0; i < len(clientIDs); i += batch {
		ids := clientIDs[i:min(i+batch, len(clientIDs))]
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(ids))
		for j, id := range ids {
			cmds[j] = pipe.XRange(ctx, keyTimeline(id), lo, hi)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read timelines: %w", err)
		}
		for j, cmd := range cmds {
			for _, m := range cmd.Val() {
				e := decodeEntry(m)
				if e.At.Before(since) || !e.At.Before(until) {
					continue
				}
				out[ids[j]] = append(out[ids[j]], e)
			}
		}
	}
	return out, nil
}

// EachEntry calls fn with each of a client's timeline entries whose time is
// in [since, until), in time order, reading 200 at a time (an export streams
// them; nothing holds the whole range). With words, answers carry the text
// of the message they came from, as Timeline gives it; without, answers hold
// no text at all. An error from fn stops the reading and is returned.
func (s *Store) EachEntry(ctx context.Context, clientID string, since, until time.Time, words bool, fn func(Entry) error) error {
	const batch = 200
	// Entry ids are never earlier than the entry's time (see Timelines).
	start := strconv.FormatInt(max(since.UnixMilli(), 0), 10)
	end := strconv.FormatInt(until.Add(time.Hour).UnixMilli(), 10)
	for {
		msgs, err := s.rdb.XRangeN(ctx, keyTimeline(clientID), start, end, batch).Result()
		if err != nil {
			return fmt.Errorf("read timeline: %w", err)
		}
		page := make([]Entry, 0, len(msgs))
		for _, m := range msgs {
			e := decodeEntry(m)
			if e.At.Before(since) || !e.At.Before(until) {
				continue
			}
			page = append(page, e)
		}
		if words {
			if err := s.answerTexts(ctx, clientID, page); err != nil {
				return err
			}
		} else {
			for _, e := range page {
				if e.Type == "answer" {
					delete(e.Fields, "text")
				}
			}
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(msgs) < batch {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}
