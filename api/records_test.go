package api_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A client and a schedule stored the way releases before the compact
// records stored them (long keys, RFC 3339 times, schedules in a hash) read
// through the API as they did, and keep reading after a change saves them
// in the compact form.
func TestRecordsWrittenBeforeCompactionReadThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	ag, key := h.agency("A")
	cm := h.caseManager(key, "Ana", "+13125550101")
	const id, sid = "cl_06h0q590v7hj08804gjsyyzmz0", "sc_06h0q590v682es8gpd8843523m"
	ctx := t.Context()
	h.rdb.Set(ctx, "{c:"+id+"}:client", `{"agency_id":"`+ag+`","name":"Old Client","phone":"+13125550199","channel":"sms",`+
		`"timezone":"America/Chicago","language":"es","case_manager_id":"`+cm+`","status":"active",`+
		`"consent":{"at":"2026-05-01T09:00:00.123456789-05:00","method":"verbal"},"created_at":"2026-04-30T12:00:00.987654321Z",`+
		`"updated_at":"2026-05-02T10:00:00.5Z"}`, 0)
	h.rdb.ZAdd(ctx, "{a:"+ag+"}:clients", redis.Z{Member: id})
	h.rdb.HSet(ctx, "{c:"+id+"}:schedules", sid, `{"agency_id":"`+ag+`","questionnaire":"daily-mood","rrule":"FREQ=DAILY",`+
		`"start":"2026-06-01T10:00:00-05:00","timezone":"America/Chicago","paused":false,"created_at":"2026-04-30T12:00:01.123456789Z"}`)

	wantClient := map[string]string{"id": id, "agency_id": ag, "name": "Old Client", "phone": "+13125550199", "language": "es",
		"status": "active", "consent": "map[at:2026-05-01T09:00:00.123456789-05:00 method:verbal]",
		"created_at": "2026-04-30T12:00:00.987654321Z", "updated_at": "2026-05-02T10:00:00.5Z", "opted_out": "false"}
	checkFields := func(what string, got map[string]any, want map[string]string) {
		t.Helper()
		for k, w := range want {
			if g := fmt.Sprint(got[k]); g != w {
				t.Errorf("%s: %s = %s; want %s", what, k, g, w)
			}
		}
	}
	code, out := h.do("GET", "/v1/clients/"+id, key, nil)
	if code != 200 {
		t.Fatalf("GET client = %d %v", code, out)
	}
	checkFields("client", out, wantClient)
	if code, out := h.do("GET", "/v1/clients", key, nil); code != 200 || len(out["clients"].([]any)) != 1 {
		t.Errorf("list clients = %d %v; want the one", code, out)
	} else {
		checkFields("listed client", out["clients"].([]any)[0].(map[string]any), wantClient)
	}

	wantSchedule := map[string]string{"id": sid, "client_id": id, "agency_id": ag, "questionnaire": "daily-mood", "rrule": "FREQ=DAILY",
		"start": "2026-06-01T10:00:00-05:00", "timezone": "America/Chicago", "paused": "false", "created_at": "2026-04-30T12:00:01.123456789Z"}
	schedules := func() []any {
		t.Helper()
		code, out := h.do("GET", "/v1/clients/"+id+"/schedules", key, nil)
		if code != 200 {
			t.Fatalf("GET schedules = %d %v", code, out)
		}
		return out["schedules"].([]any)
	}
	if list := schedules(); len(list) != 1 {
		t.Errorf("schedules = %v; want one", list)
	} else {
		checkFields("schedule", list[0].(map[string]any), wantSchedule)
	}
	if code, out := h.do("GET", "/v1/clients/"+id+"/schedules/"+sid+"/upcoming?n=1", key, nil); code != 200 || out["timezone"] != "America/Chicago" {
		t.Errorf("upcoming = %d %v; want the schedule's", code, out)
	}

	// Pausing saves the schedule compact; renaming saves the client compact.
	if code, out := h.do("PATCH", "/v1/clients/"+id+"/schedules/"+sid, key, map[string]any{"paused": true}); code != 200 {
		t.Fatalf("pause = %d %v", code, out)
	}
	if n := h.rdb.Exists(ctx, "{c:"+id+"}:schedules").Val(); n != 0 {
		t.Errorf("the old schedules hash is still there after a save")
	}
	wantSchedule["paused"] = "true"
	if list := schedules(); len(list) != 1 {
		t.Errorf("schedules after pause = %v; want one", list)
	} else {
		checkFields("paused schedule", list[0].(map[string]any), wantSchedule)
	}
	if code, out := h.do("PATCH", "/v1/clients/"+id, key, map[string]any{"name": "Renamed"}); code != 200 {
		t.Fatalf("rename = %d %v", code, out)
	}
	_, out = h.do("GET", "/v1/clients/"+id, key, nil)
	wantClient["name"] = "Renamed"
	delete(wantClient, "updated_at") // now the rename's time
	checkFields("renamed client", out, wantClient)
}
