package escalation

import (
	"errors"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// FuzzParseRef reads random call references, the query a voice webhook
// carries back. It must never panic; it refuses with ErrUnknownSender
// (the webhook answers 200 and nothing changes) or names an agency, an
// escalation and a staff member, all non-empty; and a reference made by
// callRef reads back as made.
func FuzzParseRef(f *testing.F) {
	f.Add("a=ag_7&e=es_42&r=0&s=cm_3&st=1")
	f.Add("a=ag_7&e=es_42&r=-1&s=cm_3&st=99999999999999999999")
	f.Add("a=&e=es_42&r=0&s=cm_3&st=1")
	f.Add("a=ag_7&a=ag_8&e=es_42&r=0&s=cm_3&st=1")
	f.Add("a=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, ref string) {
		c, err := parseRef(ref)
		if err != nil {
			if !errors.Is(err, bot.ErrUnknownSender) {
				t.Fatalf("parseRef(%q) = %v; want ErrUnknownSender", ref, err)
			}
			return
		}
		if c.agency == "" || c.esc == "" || c.staff == "" {
			t.Fatalf("parseRef(%q) = %+v; want every id", ref, c)
		}
		again, err := parseRef(callRef(&store.Escalation{AgencyID: c.agency, ID: c.esc, Round: c.round, Step: c.step}, c.staff))
		if err != nil || again != c {
			t.Fatalf("callRef of %+v reads back %+v, %v", c, again, err)
		}
	})
}
