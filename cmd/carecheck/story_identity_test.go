package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// The sending identities of the outsider's story: agency A's own number,
// agency B's Messaging Service (one number in its pool), and a number of
// the account that nobody claimed.
const (
	numberA   = "+13125550201"
	numberB   = "+13125550202"
	serviceB  = "MG0123456789abcdef0123456789abcdef"
	unclaimed = "+13125550209"
	// sharedPhone is the one person's phone both agencies serve.
	sharedPhone = "+13125550233"
)

// smsTo delivers a signed inbound SMS to one of our numbers (through a
// Messaging Service when service is set), as Twilio would.
func (s *stack) smsTo(from, to, service, body string) int {
	s.t.Helper()
	s.used.add(from, body)
	form := twiliotest.SMSForm(fmt.Sprintf("SM%032d", s.seq.Add(1)), from, to, body)
	if service != "" {
		form.Set("MessagingServiceSid", service)
	}
	resp, err := s.twilio.DeliverSMS(context.Background(), s.url+twilio.SMSPath, s.url+twilio.SMSPath, form)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// identityAgency creates an agency with a case manager, and gives it the
// sending identity body (nil: it stays on the default number).
func (s *stack) identityAgency(name, cmPhone string, identity map[string]any) seeded {
	s.t.Helper()
	var z seeded
	out := s.mustFn(s.api("POST", "/v1/agencies", operatorTok, map[string]any{"name": name, "timezone": "America/Chicago"}))(201)
	z.key, z.agency = out["api_key"].(string), out["id"].(string)
	if identity != nil {
		s.mustFn(s.api("PUT", "/v1/agency/sending-identity", z.key, map[string]any{"sms": identity}))(200)
	}
	z.cm = s.mustFn(s.api("POST", "/v1/case-managers", z.key, map[string]any{"name": name + " Casemgr", "phone": cmPhone}))(201)["id"].(string)
	return z
}

// TestStoryAgenciesWithOwnNumbersLearnNothingOfEachOther is the outsider of
// issue 15 again: two agencies with their own sending identities (A a
// number, B a Messaging Service) register the same person's phone and the
// same staff phone (both 201), and each probes the other's numbers (201,
// nothing learned). The person texts each agency's number: each agency's
// own check-in advances, and the replies go From that agency's identity. A
// crisis text to A pages A's case manager from A's number; B hears nothing
// of it. A text to a number nobody claimed is a stranger's; agencies on
// the default number still refuse a phone held within it.
func TestStoryAgenciesWithOwnNumbersLearnNothingOfEachOther(t *testing.T) {
	s := startStack(t)
	s.twilio.AddService(serviceB, numberB)
	a := s.identityAgency("Alder Clinic", "+13125550211", map[string]any{"numbers": []string{numberA}})
	b := s.identityAgency("Birch House", "+13125550212", map[string]any{"messaging_service_sid": serviceB, "numbers": []string{numberB}})

	// The same person, registered by both: 201 twice.
	a.client = s.clientAt(a, "Morgan Ashdown", sharedPhone, "en", true)
	b.client = s.clientAt(b, "Morgan Ashdown", sharedPhone, "en", true)
	// Probes: each agency tries the other's staff phone and the person's
	// phone again as staff; nothing tells them anyone has it.
	s.mustFn(s.api("POST", "/v1/case-managers", a.key, map[string]any{"name": "Probe One", "phone": "+13125550212"}))(201)
	s.mustFn(s.api("POST", "/v1/case-managers", b.key, map[string]any{"name": "Probe Two", "phone": "+13125550211"}))(201)
	// Within an agency's own identity, one active person per phone still holds.
	if code, out := s.api("POST", "/v1/clients", a.key, map[string]any{"name": "Second Person", "phone": sharedPhone, "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": a.cm}); code != 409 {
		t.Errorf("a second active person on one phone within A = %d %v; want 409", code, out)
	}

	// Both start a check-in: each question goes out from its own identity.
	m := s.mark()
	s.mustFn(s.api("POST", "/v1/clients/"+a.client+"/checkins", a.key, map[string]any{"questionnaire": "daily-mood"}))(202)
	qa := s.nextSMS(m, sharedPhone, contains("10"))
	if qa.From != numberA || qa.MessagingServiceSID != "" {
		t.Errorf("A's question went From %q (service %q); want From A's number", qa.From, qa.MessagingServiceSID)
	}
	s.settle()
	m = s.mark()
	s.mustFn(s.api("POST", "/v1/clients/"+b.client+"/checkins", b.key, map[string]any{"questionnaire": "medication"}))(202)
	qb := s.nextSMS(m, sharedPhone, func(b string) bool { return strings.Contains(strings.ToLower(b), "medication") })
	if qb.MessagingServiceSID != serviceB || qb.From != numberB {
		t.Errorf("B's question went From %q through %q; want through B's service (from its number)", qb.From, qb.MessagingServiceSID)
	}

	// The person answers A on A's number: A's check-in takes it, B's does not.
	m = s.mark()
	if code := s.smsTo(sharedPhone, numberA, "", "7"); code != 200 {
		t.Fatalf("answer to A's number = %d", code)
	}
	thanks := s.nextSMS(m, sharedPhone, contains("case manager"))
	if thanks.From != numberA {
		t.Errorf("A's thanks went From %q; want A's number", thanks.From)
	}
	s.expectEntry(a.key, a.client, "answer", map[string]string{"value": "7"})
	s.settle()
	if n := s.countEntries(b.key, b.client, "answer", nil); n != 0 {
		t.Errorf("B's timeline has %d answers after a text to A's number; want 0", n)
	}

	// Then B on B's number (through its service): B's check-in advances.
	m = s.mark()
	if code := s.smsTo(sharedPhone, numberB, serviceB, "yes"); code != 200 {
		t.Fatalf("answer to B's number = %d", code)
	}
	next := s.nextSMS(m, sharedPhone, func(string) bool { return true })
	if next.MessagingServiceSID != serviceB {
		t.Errorf("B's next message went From %q through %q; want through B's service", next.From, next.MessagingServiceSID)
	}
	s.expectEntry(b.key, b.client, "answer", nil)
	if n := s.countEntries(a.key, a.client, "answer", nil); n != 1 {
		t.Errorf("A's timeline has %d answers; want its one", n)
	}

	// A crisis text to A's number: the safety reply and the alert go From
	// A's number; B opens nothing and its staff hear nothing.
	m = s.mark()
	s.smsTo(sharedPhone, numberA, "", "i want to kill myself tonight")
	if safety := s.nextSMS(m, sharedPhone, contains("988")); safety.From != numberA {
		t.Errorf("safety reply went From %q; want A's number", safety.From)
	}
	if alert := s.nextSMS(m, "+13125550211", isAlert); alert.From != numberA {
		t.Errorf("A's alert went From %q; want A's number", alert.From)
	}
	s.settle()
	if n := len(s.openEscalations(a.key)); n != 1 {
		t.Errorf("A has %d open escalations; want 1", n)
	}
	if n := len(s.openEscalations(b.key)); n != 0 {
		t.Errorf("B has %d open escalations after a crisis text to A's number; want 0", n)
	}
	if got := s.bodiesSince(m, "+13125550212"); len(got) != 0 {
		t.Errorf("B's case manager was sent %v; want nothing", got)
	}

	// A number nobody claimed, not the default: a stranger, answered once
	// from that number, whoever the sender is.
	m = s.mark()
	s.smsTo(sharedPhone, unclaimed, "", "hello there")
	if u := s.nextSMS(m, sharedPhone, contains("does not recognise")); u.From != unclaimed {
		t.Errorf("the stranger's answer went From %q; want the number they wrote to", u.From)
	}

	// Agencies on the default number keep today's rule within it.
	c := s.identityAgency("Cedar Row", "+13125550213", nil)
	d := s.identityAgency("Dogwood Way", "+13125550214", nil)
	s.clientAt(c, "Riley Fenwick", "+13125550234", "en", true)
	if code, _ := s.api("POST", "/v1/clients", d.key, map[string]any{"name": "Riley Fenwick", "phone": "+13125550234", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": d.cm}); code != 409 {
		t.Errorf("a phone held on the default number, registered by another default agency = %d; want 409", code)
	}
	// ...and their messages go from the default number.
	m = s.mark()
	s.smsTo("+13125550234", ourNumber, "", "help")
	if h := s.nextSMS(m, "+13125550234", contains("STOP")); h.From != ourNumber || h.MessagingServiceSID != "" {
		t.Errorf("a default agency's answer went From %q (service %q); want the default number", h.From, h.MessagingServiceSID)
	}
	// A claimed number or the default one cannot be claimed again: 409,
	// naming nobody.
	for _, number := range []string{numberA, ourNumber} {
		code, out := s.api("PUT", "/v1/agency/sending-identity", c.key, map[string]any{"sms": map[string]any{"numbers": []string{number}}})
		if code != 409 || strings.Contains(fmt.Sprint(out), a.agency) || strings.Contains(fmt.Sprint(out), "Alder") {
			t.Errorf("claiming %s = %d %v; want 409 naming nobody", number, code, out)
		}
	}
	if _, out := s.api("GET", "/v1/agency/sending-identity", c.key, nil); out["default"] != true {
		t.Errorf("after refused claims C's identity = %v; want the default", out)
	}
	s.checkLogsArePrivate()
}
