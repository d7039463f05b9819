package store

import (
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeline entries are stored compactly: one stream field, "e", whose value
// is the entry packed as unit-separator (0x1F) joined elements:
//
//	<kind code> US <at - id ms, base 36, "" when 0> US <fields of the kind, by position> US <extra "k=v">…
//
// Every entry having the same single field name lets Redis keep the name
// once per stream node (an entry whose fields equal the node's master entry
// stores values only), and fields known by position store no names at all.
// The entry's stream id carries its time (scripts/receive.lua and apply.lua
// take the id from the store's clock, never moving backwards), so "at" costs
// nothing unless the clock was behind the stream's last entry.
//
// Entries written before this layout (flat "t", "at", field, value pairs)
// are read as they are; an event the packing cannot hold losslessly (a value
// holding the separator) is still written in that flat layout.
const (
	entryField = "e"
	entrySep   = "\x1f"
)

// entryKind is one packed entry type: its one-letter code and its fields in
// storage order. textLast kinds end in free text, which takes the rest of
// the value whatever it holds (so they carry no extras).
type entryKind struct {
	name, code string
	fields     []string
	textLast   bool
}

var entryKinds = []entryKind{
	{name: "in", code: "i", fields: []string{"ch", "k", "x"}, textLast: true},
	{name: "out", code: "o", fields: []string{"ch", "x"}, textLast: true},
	{name: "checkin-started", code: "s", fields: []string{"conv", "q"}},
	{name: "answer", code: "a", fields: []string{"conv", "q", "question", "value", "code", "msg", "text", "skipped"}},
	{name: "score", code: "c", fields: []string{"conv", "q", "instrument", "risk", "valid", "total", "band", "reasons"}},
	{name: "missed", code: "m", fields: []string{"conv", "q", "in_a_row"}},
	{name: "nudged", code: "n", fields: []string{"conv"}},
	{name: "skipped", code: "k", fields: []string{"occ", "q", "reason"}},
	{name: "screen", code: "x", fields: []string{"msg", "level", "reasons"}},
	{name: "checkin-interrupted", code: "r", fields: []string{"conv", "reason"}},
	{name: "reminder", code: "d", fields: []string{"appt", "occ"}},
}

var kindByName, kindByCode = func() (map[string]*entryKind, map[string]*entryKind) {
	n, c := map[string]*entryKind{}, map[string]*entryKind{}
	for i := range entryKinds {
		k := &entryKinds[i]
		n[k.name], c[k.code] = k, k
	}
	return n, c
}()

// packEvent packs an event (flat field, value pairs with "t" naming its
// type) into the head (kind code or type name) and the tail that follows
// the "at" element (starting with the separator, or ""). ok is false when
// the event must be stored flat.
func packEvent(e Event) (head, tail string, ok bool) {
	typ := ""
	vals := map[string]string{}
	var order []string
	for i := 0; i+1 < len(e); i += 2 {
		if e[i] == "t" {
			typ = e[i+1]
			continue
		}
		if _, dup := vals[e[i]]; dup || e[i] == "at" || strings.ContainsAny(e[i], "="+entrySep) {
			return "", "", false
		}
		vals[e[i]] = e[i+1]
		order = append(order, e[i])
	}
	if typ == "" || len(typ) == 1 || strings.Contains(typ, entrySep) {
		return "", "", false // one-letter names are codes
	}
	var elems []string
	k := kindByName[typ]
	head = typ
	if k != nil {
		head = k.code
		for _, f := range k.fields {
			v := vals[f]
			if _, present := vals[f]; present && v == "" {
				return "", "", false // present but empty: positional "" means absent
			}
			elems = append(elems, v)
			delete(vals, f)
		}
	}
	extras := 0
	for _, f := range order {
		if v, left := vals[f]; left {
			elems = append(elems, f+"="+v)
			extras++
		}
	}
	if k != nil && k.textLast && extras > 0 {
		return "", "", false
	}
	for i, v := range elems {
		last := i == len(elems)-1
		if strings.Contains(v, entrySep) && !(last && k != nil && k.textLast && extras == 0) {
			return "", "", false
		}
	}
	if extras == 0 {
		for len(elems) > 0 && elems[len(elems)-1] == "" {
			elems = elems[:len(elems)-1]
		}
	}
	if len(elems) > 0 {
		tail = entrySep + strings.Join(elems, entrySep)
	}
	return head, tail, true
}

// decodeEntry reads a stored timeline entry, packed or flat.
func decodeEntry(m redis.XMessage) Entry {
	packed, ok := m.Values[entryField].(string)
	if !ok || len(m.Values) != 1 {
		return toEntry(m)
	}
	e := Entry{ID: m.ID, Fields: map[string]string{}}
	head, rest, _ := strings.Cut(packed, entrySep)
	k := kindByCode[head]
	n := -1
	if k != nil && k.textLast {
		n = len(k.fields) + 1 // the text takes the rest
	}
	var elems []string
	if rest != "" || strings.Contains(packed, entrySep) {
		elems = strings.SplitN(rest, entrySep, n)
	}
	delta := int64(0)
	if len(elems) > 0 {
		delta, _ = strconv.ParseInt(elems[0], 36, 64)
		elems = elems[1:]
	}
	e.At = time.UnixMilli(idMillis(m.ID) + delta).UTC()
	e.Type = head
	if k != nil {
		e.Type = k.name
		for i, f := range k.fields {
			if i < len(elems) && elems[i] != "" {
				e.Fields[f] = elems[i]
			}
		}
		elems = elems[min(len(k.fields), len(elems)):]
	}
	for _, kv := range elems {
		if f, v, ok := strings.Cut(kv, "="); ok {
			e.Fields[f] = v
		}
	}
	return e
}

// idMillis is the millisecond part of a stream id.
func idMillis(id string) int64 {
	ms, _ := strconv.ParseInt(id[:max(strings.IndexByte(id, '-'), 0)], 10, 64)
	return ms
}
