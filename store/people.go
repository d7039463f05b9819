package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Owner is who an inbound address belongs to.
type Owner struct {
	Kind     string // "client" or "staff"
	ID       string
	AgencyID string
}

func (o Owner) value() string { return o.Kind + ":" + o.AgencyID + ":" + o.ID }

func parseOwner(v string) (Owner, bool) {
	kind, rest, ok := strings.Cut(v, ":")
	if !ok || (kind != "client" && kind != "staff") {
		return Owner{}, false
	}
	ag, id, ok := strings.Cut(rest, ":")
	return Owner{Kind: kind, ID: id, AgencyID: ag}, ok
}

// ChatOwner finds who owns a Telegram chat that wrote to our bot (one round
// trip); ErrNotFound when nobody does.
func (s *Store) ChatOwner(ctx context.Context, chat string) (Owner, error) {
	return s.lookupOwner(ctx, keyChatOwner(chat))
}

func (s *Store) lookupOwner(ctx context.Context, key string) (Owner, error) {
	v, err := s.hot.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return Owner{}, ErrNotFound
	}
	if err != nil {
		return Owner{}, fmt.Errorf("look up sender: %w", err)
	}
	o, ok := parseOwner(v)
	if !ok {
		return Owner{}, ErrNotFound
	}
	return o, nil
}

// claimOwner binds an address to a person. An address held by an active
// person is a conflict; one held by someone discharged or inactive is taken over.
func (s *Store) claimOwner(ctx context.Context, key string, o Owner) error {
	want := o.value()
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, key, want, 0).Result()
		if err != nil {
			return fmt.Errorf("claim address: %w", err)
		}
		if ok {
			return nil
		}
		cur, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return fmt.Errorf("claim address: %w", err)
		}
		if cur == want {
			return nil
		}
		holder, _ := parseOwner(cur)
		if s.ownerActive(ctx, holder) {
			return ErrConflict
		}
		err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, key).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if v != cur {
				return redis.TxFailedErr
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, want, 0)
				return nil
			})
			return err
		}, key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, redis.TxFailedErr) {
			return fmt.Errorf("claim address: %w", err)
		}
	}
	return ErrConflict
}

// releaseOwner drops an address binding if it still points at o.
func (s *Store) releaseOwner(ctx context.Context, key string, o Owner) {
	_ = scriptDelIfEquals.Run(ctx, s.rdb, []string{key}, o.value()).Err()
}

var scriptDelIfEquals = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (s *Store) ownerActive(ctx context.Context, o Owner) bool {
	switch o.Kind {
	case "client":
		c, err := s.Client(ctx, o.ID)
		if errors.Is(err, ErrNotFound) {
			return false
		}
		return err != nil || c.Status != StatusDischarged
	case "staff":
		m, err := s.CaseManager(ctx, o.AgencyID, o.ID)
		if errors.Is(err, ErrNotFound) {
			return false
		}
		return err != nil || m.Active
	}
	return false
}

// CreateCaseManager stores a case manager and binds their phone.
func (s *Store) CreateCaseManager(ctx context.Context, m *CaseManager) error {
	now := s.now().UTC()
	m.ID = NewID("cm", now)
	m.Created = now
	m.Active = true
	o := Owner{Kind: "staff", ID: m.ID, AgencyID: m.AgencyID}
	if m.Phone != "" {
		if err := s.claimPhone(ctx, o, m.Phone); err != nil {
			return err
		}
	}
	if m.Email != "" {
		if err := s.claimStaffEmail(ctx, o, m.Email); err != nil {
			if m.Phone != "" {
				s.releasePhone(ctx, o, m.Phone)
			}
			return err
		}
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, keyCaseManager(m.AgencyID, m.ID), body, 0)
	pipe.ZAdd(ctx, keyCaseManagers(m.AgencyID), redis.Z{Member: m.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		if m.Phone != "" {
			s.releasePhone(ctx, o, m.Phone)
		}
		if m.Email != "" {
			s.releaseStaffEmail(ctx, o, m.Email)
		}
		return fmt.Errorf("store case manager: %w", err)
	}
	return nil
}

// SaveCaseManager overwrites a case manager record (used when linking Telegram).
func (s *Store) SaveCaseManager(ctx context.Context, m *CaseManager) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, keyCaseManager(m.AgencyID, m.ID), body, 0).Err()
}

// CaseManager loads one case manager of an agency.
func (s *Store) CaseManager(ctx context.Context, agencyID, id string) (*CaseManager, error) {
	var m CaseManager
	if err := s.getJSON(ctx, keyCaseManager(agencyID, id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// CaseManagers lists an agency's case managers by id, after the cursor.
func (s *Store) CaseManagers(ctx context.Context, agencyID, cursor string, limit int) (Page[*CaseManager], error) {
	ids, next, err := s.pageIDs(ctx, keyCaseManagers(agencyID), cursor, limit)
	if err != nil {
		return Page[*CaseManager]{}, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyCaseManager(agencyID, id)
	}
	items, err := getMany[CaseManager](ctx, s, keys)
	return Page[*CaseManager]{Items: items, Next: next}, err
}

// CreateClient stores a client and binds their phone number.
func (s *Store) CreateClient(ctx context.Context, c *Client) error {
	now := s.nowMilli()
	c.ID = NewID("cl", now)
	c.Created, c.Updated = now, now
	if c.Status == "" {
		c.Status = StatusActive
	}
	o := Owner{Kind: "client", ID: c.ID, AgencyID: c.AgencyID}
	if err := s.claimExternalID(ctx, c.AgencyID, c.ID, c.ExternalID); err != nil {
		return err
	}
	if c.Phone != "" {
		if err := s.claimPhone(ctx, o, c.Phone); err != nil {
			s.releaseExternalID(ctx, c.AgencyID, c.ID, c.ExternalID)
			return err
		}
	}
	body, err := encodeClient(c)
	if err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, keyClient(c.ID), body, 0)
	pipe.ZAdd(ctx, keyClients(c.AgencyID), redis.Z{Member: c.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		if c.Phone != "" {
			s.releasePhone(ctx, o, c.Phone)
		}
		s.releaseExternalID(ctx, c.AgencyID, c.ID, c.ExternalID)
		return fmt.Errorf("store client: %w", err)
	}
	return nil
}

// Client loads a client by id, whatever its agency (callers check AgencyID).
func (s *Store) Client(ctx context.Context, id string) (*Client, error) {
	raw, err := s.rdb.Get(ctx, keyClient(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read client: %w", err)
	}
	c, err := decodeClient(raw, id)
	if err != nil {
		return nil, fmt.Errorf("decode client: %w", err)
	}
	return c, nil
}

// AgencyClient loads a client of one agency; another agency's client is ErrNotFound.
func (s *Store) AgencyClient(ctx context.Context, agencyID, id string) (*Client, error) {
	c, err := s.Client(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.AgencyID != agencyID {
		return nil, ErrNotFound
	}
	return c, nil
}

// UpdateClient saves a changed client. A changed phone moves its binding;
// a discharge keeps the binding so a discharged client's crisis text is still
// screened, until an active person claims the number.
func (s *Store) UpdateClient(ctx context.Context, old, c *Client) error {
	c.Updated = s.nowMilli()
	o := Owner{Kind: "client", ID: c.ID, AgencyID: c.AgencyID}
	if c.ExternalID != old.ExternalID {
		if err := s.claimExternalID(ctx, c.AgencyID, c.ID, c.ExternalID); err != nil {
			return err
		}
	}
	if c.Phone != old.Phone && c.Phone != "" {
		if err := s.claimPhone(ctx, o, c.Phone); err != nil {
			return err
		}
	}
	if c.TelegramChat != old.TelegramChat && c.TelegramChat != "" {
		if err := s.claimOwner(ctx, keyChatOwner(c.TelegramChat), o); err != nil {
			return err
		}
	}
	body, err := encodeClient(c)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, keyClient(c.ID), body, 0).Err(); err != nil {
		return fmt.Errorf("save client: %w", err)
	}
	if old.Phone != "" && c.Phone != old.Phone {
		s.releasePhone(ctx, o, old.Phone)
	}
	if c.ExternalID != old.ExternalID {
		s.releaseExternalID(ctx, c.AgencyID, c.ID, old.ExternalID)
	}
	return nil
}

// BindTelegram binds a Telegram chat to a person (after a link code was used).
func (s *Store) BindTelegram(ctx context.Context, o Owner, chat string) error {
	return s.claimOwner(ctx, keyChatOwner(chat), o)
}

// Clients lists an agency's clients by id, after the cursor.
func (s *Store) Clients(ctx context.Context, agencyID, cursor string, limit int) (Page[*Client], error) {
	ids, next, err := s.pageIDs(ctx, keyClients(agencyID), cursor, limit)
	if err != nil {
		return Page[*Client]{}, err
	}
	items, err := s.clientsByID(ctx, ids)
	if err != nil {
		return Page[*Client]{}, err
	}
	return Page[*Client]{Items: items, Next: next}, nil
}

// AgencyClients loads the agency's clients of ids in one round trip, by id;
// an id of no client, or of another agency's, is left out.
func (s *Store) AgencyClients(ctx context.Context, agencyID string, ids []string) (map[string]*Client, error) {
	items, err := s.clientsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Client, len(items))
	for _, c := range items {
		if c.AgencyID == agencyID {
			out[c.ID] = c
		}
	}
	return out, nil
}

// clientsByID loads the clients of ids in one round trip, in that order,
// leaving out ids of no client.
func (s *Store) clientsByID(ctx context.Context, ids []string) ([]*Client, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Get(ctx, keyClient(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("load clients: %w", err)
		}
	}
	items := make([]*Client, 0, len(ids))
	for i, cmd := range cmds {
		raw, err := cmd.Bytes()
		if err != nil {
			continue
		}
		c, err := decodeClient(raw, ids[i])
		if err != nil {
			return nil, fmt.Errorf("decode client: %w", err)
		}
		items = append(items, c)
	}
	return items, nil
}

// pageIDs pages a lex-sorted id set: ids are time-ordered, so pages are in creation order.
func (s *Store) pageIDs(ctx context.Context, key, cursor string, limit int) ([]string, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	min := "-"
	if cursor != "" {
		min = "(" + cursor
	}
	ids, err := s.rdb.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: min, Max: "+", Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", key, err)
	}
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	return ids, next, nil
}

// getMany loads JSON records in one pipelined round trip (per node on a Cluster).
func getMany[T any](ctx context.Context, s *Store, keys []string) ([]*T, error) {
	if len(keys) == 0 {
		return []*T{}, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load records: %w", err)
	}
	out := make([]*T, 0, len(keys))
	for _, c := range cmds {
		b, err := c.Bytes()
		if err != nil {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, &v)
	}
	return out, nil
}

// ErrChanged reports a record that changed between its read and a
// conditional write; the caller reads again and retries.
var ErrChanged = errors.New("changed meanwhile")

// UpdateCaseManager saves m over old if the stored record is still old
// (else ErrChanged). A changed phone moves its binding: the new number is
// claimed first (ErrConflict when an active person holds it), the old one
// released after the save.
func (s *Store) UpdateCaseManager(ctx context.Context, old, m *CaseManager) error {
	o := Owner{Kind: "staff", ID: m.ID, AgencyID: m.AgencyID}
	if m.Phone != old.Phone && m.Phone != "" {
		if err := s.claimPhone(ctx, o, m.Phone); err != nil {
			return err
		}
	}
	newEmail := m.Email != old.Email && m.Email != ""
	if newEmail {
		if err := s.claimStaffEmail(ctx, o, m.Email); err != nil {
			if m.Phone != old.Phone && m.Phone != "" {
				s.releasePhone(ctx, o, m.Phone)
			}
			return err
		}
	}
	was, err := json.Marshal(old)
	if err != nil {
		return err
	}
	// One attempt: a record written meanwhile is ErrChanged for the caller,
	// who decided on m from old.
	_, _, err = changeJSON(ctx, s, keyCaseManager(m.AgencyID, m.ID), 1, func(stored *CaseManager) error {
		if again, _ := json.Marshal(stored); string(again) != string(was) {
			return ErrChanged
		}
		*stored = *m
		return nil
	})
	if err != nil {
		if m.Phone != old.Phone && m.Phone != "" {
			s.releasePhone(ctx, o, m.Phone)
		}
		if newEmail {
			s.releaseStaffEmail(ctx, o, m.Email)
		}
		if errors.Is(err, ErrChanged) || errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("save case manager %s: %w", m.ID, err)
	}
	if old.Phone != "" && m.Phone != old.Phone {
		s.releasePhone(ctx, o, old.Phone)
	}
	if old.Email != "" && m.Email != old.Email {
		s.releaseStaffEmail(ctx, o, old.Email)
	}
	return nil
}

// DeactivateCaseManager returns old deactivated (a copy): Active false,
// DeactivatedAt now. Their phone and Telegram bindings stay, so a message
// from them is still known as theirs, until an active person claims the
// address.
func (s *Store) DeactivateCaseManager(old *CaseManager) *CaseManager {
	m := *old
	if m.Active || m.DeactivatedAt == nil {
		now := s.nowMilli()
		m.DeactivatedAt = &now
	}
	m.Active = false
	return &m
}

// caseManagersActive maps each of an agency's case managers to whether
// they are active.
func (s *Store) caseManagersActive(ctx context.Context, agencyID string) (map[string]bool, error) {
	out := map[string]bool{}
	cursor := ""
	for {
		page, err := s.CaseManagers(ctx, agencyID, cursor, 200)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Items {
			out[m.ID] = m.Active
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// NeedsCaseManager returns the ids of those of an agency's clients who
// need a new case manager: not discharged, and their case manager
// deactivated or gone. One pipelined read of their case managers.
func (s *Store) NeedsCaseManager(ctx context.Context, agencyID string, clients ...*Client) (map[string]bool, error) {
	out := map[string]bool{}
	var order []string
	seen := map[string]bool{}
	for _, c := range clients {
		if c.Status != StatusDischarged && !seen[c.CaseManagerID] {
			seen[c.CaseManagerID] = true
			order = append(order, c.CaseManagerID)
		}
	}
	if len(order) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(order))
	for i, id := range order {
		cmds[i] = pipe.Get(ctx, keyCaseManager(agencyID, id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load case managers: %w", err)
	}
	active := map[string]bool{}
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if err != nil {
			continue // gone
		}
		var m CaseManager
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("decode case manager: %w", err)
		}
		active[order[i]] = m.Active
	}
	for _, c := range clients {
		if c.Status != StatusDischarged && !active[c.CaseManagerID] {
			out[c.ID] = true
		}
	}
	return out, nil
}

// ClientsNeedingCaseManager pages an agency's clients (by id, after the
// cursor) that are not discharged and whose case manager is deactivated or
// gone. It reads the agency's case managers, then its clients a page at a
// time until the page is full: an admin's query, not a hot path.
func (s *Store) ClientsNeedingCaseManager(ctx context.Context, agencyID, cursor string, limit int) (Page[*Client], error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	active, err := s.caseManagersActive(ctx, agencyID)
	if err != nil {
		return Page[*Client]{}, err
	}
	out := Page[*Client]{Items: []*Client{}}
	for {
		page, err := s.Clients(ctx, agencyID, cursor, 200)
		if err != nil {
			return Page[*Client]{}, err
		}
		for _, c := range page.Items {
			if c.Status == StatusDischarged || active[c.CaseManagerID] {
				continue
			}
			if len(out.Items) == limit {
				out.Next = out.Items[limit-1].ID
				return out, nil
			}
			out.Items = append(out.Items, c)
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}
