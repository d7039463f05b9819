package twiliotest

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// CallScript is what the fake does with a call it accepted, as the phone at
// the other end would.
type CallScript int

// The scripts a call can play.
const (
	// Ringing: nothing happens until the test plays a script (Play).
	Ringing CallScript = iota
	// PressOne: answered by a person, who hears the alert and presses 1.
	PressOne
	// PressTwoThenOne: presses 2 (hear it again), then 1.
	PressTwoThenOne
	// NoAnswer: rings out ("no-answer").
	NoAnswer
	// Busy: the line is busy.
	Busy
	// Failed: the call could not be connected.
	Failed
	// Voicemail: an answering machine picks up (AnsweredBy machine_end_beep).
	Voicemail
)

// Call is one call the fake accepted and what happened to it.
type Call struct {
	SID            string
	To, From       string
	URL            string // the TwiML URL (signed over as given)
	StatusCallback string
	At             time.Time
	// TwiML lists the TwiML documents our side answered, in order.
	TwiML []string
	// Status is the final status reported ("" while ringing).
	Status string
}

// callBook holds the fake's calls and the scripts waiting for them.
type callBook struct {
	mu      sync.Mutex
	calls   []Call
	scripts map[string][]CallScript // by To number, first in first out
	changed chan struct{}
	hold    chan struct{} // HoldCalls: closed by its release
}

// HoldCalls makes the Calls API keep each request to create a call waiting,
// as a slow Twilio does, until release is called; then they are answered.
func (s *Server) HoldCalls() (release func()) {
	hold := make(chan struct{})
	s.book.mu.Lock()
	s.book.hold = hold
	s.book.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.book.mu.Lock()
			s.book.hold = nil
			s.book.mu.Unlock()
			close(hold)
		})
	}
}

// ScriptCall makes the next call to number play script (calls without a
// script ring until Play).
func (s *Server) ScriptCall(number string, script CallScript) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if s.book.scripts == nil {
		s.book.scripts = map[string][]CallScript{}
	}
	s.book.scripts[number] = append(s.book.scripts[number], script)
}

// Calls returns the calls accepted, in order.
func (s *Server) Calls() []Call {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	out := make([]Call, len(s.book.calls))
	for i, c := range s.book.calls {
		c.TwiML = append([]string(nil), c.TwiML...)
		out[i] = c
	}
	return out
}

// WaitForCall returns the first call, past or future, for which pred is
// true (as it is now or after a change), or ctx's error.
func (s *Server) WaitForCall(ctx context.Context, pred func(Call) bool) (Call, error) {
	for {
		s.book.mu.Lock()
		if s.book.changed == nil {
			s.book.changed = make(chan struct{})
		}
		changed := s.book.changed
		s.book.mu.Unlock()
		for _, c := range s.Calls() {
			if pred(c) {
				return c, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("twiliotest: wait for call: %w", ctx.Err())
		}
	}
}

func (s *Server) updateCall(sid string, f func(*Call)) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	for i := range s.book.calls {
		if s.book.calls[i].SID == sid {
			f(&s.book.calls[i])
		}
	}
	if s.book.changed != nil {
		close(s.book.changed)
	}
	s.book.changed = make(chan struct{})
}

// createCall answers POST Calls.json as Twilio does: 201 with the call
// resource, queued; a scripted call then plays in the background.
func (s restAPI) createCall(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 21100, "Invalid request: malformed form")
		return
	}
	s.book.mu.Lock()
	hold := s.book.hold
	s.book.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	f := r.PostForm
	to, from, twimlURL, cb := f.Get("To"), f.Get("From"), f.Get("Url"), f.Get("StatusCallback")
	switch {
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case from == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case twimlURL == "" && f.Get("Twiml") == "":
		writeError(w, http.StatusBadRequest, 21205, "Url parameter is required.")
		return
	}
	s.mu.Lock()
	c := Call{SID: s.newSID("CA"), To: to, From: from, URL: twimlURL, StatusCallback: cb, At: s.now().UTC()}
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	s.book.mu.Lock()
	script := Ringing
	if q := s.book.scripts[to]; len(q) > 0 {
		script, s.book.scripts[to] = q[0], q[1:]
	}
	s.book.calls = append(s.book.calls, c)
	if s.book.changed != nil {
		close(s.book.changed)
	}
	s.book.changed = make(chan struct{})
	s.book.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": c.SID, "account_sid": s.accountSID, "to": to, "from": from,
		"status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": c.At.Format(time.RFC1123Z), "uri": "/2010-04-01/Accounts/" + s.accountSID + "/Calls/" + c.SID + ".json"})
	if closed {
		return
	}
	go func() {
		defer s.wg.Done()
		if script == Ringing {
			return
		}
		if err := s.Play(s.ctx, c.SID, script); err != nil && s.ctx.Err() == nil {
			s.mu.Lock()
			s.sendErrs = append(s.sendErrs, err)
			s.mu.Unlock()
		}
	}()
}

// Play plays script on an accepted call, as Twilio and the phone would:
// for an answered call it fetches the TwiML from the call's Url, follows
// its <Gather action> with the digits pressed (each request signed as
// Twilio signs), then posts the final status to the StatusCallback. Any
// answer but 200 from our side is an error.
func (s *Server) Play(ctx context.Context, sid string, script CallScript) error {
	var c Call
	for _, x := range s.Calls() {
		if x.SID == sid {
			c = x
		}
	}
	if c.SID == "" {
		return fmt.Errorf("twiliotest: no call %s", sid)
	}
	form := func(status, answeredBy string) url.Values {
		v := url.Values{"AccountSid": {s.accountSID}, "CallSid": {sid}, "From": {c.From}, "To": {c.To},
			"CallStatus": {status}, "Direction": {"outbound-api"}, "ApiVersion": {"2010-04-01"}}
		if answeredBy != "" {
			v.Set("AnsweredBy", answeredBy)
		}
		return v
	}
	status, answeredBy := "completed", ""
	switch script {
	case NoAnswer:
		status = "no-answer"
	case Busy:
		status = "busy"
	case Failed:
		status = "failed"
	case Voicemail:
		answeredBy = "machine_end_beep"
		if _, err := s.fetchTwiML(ctx, c, c.URL, form("in-progress", answeredBy)); err != nil {
			return err
		}
	case PressOne, PressTwoThenOne:
		answeredBy = "human"
		doc, err := s.fetchTwiML(ctx, c, c.URL, form("in-progress", answeredBy))
		if err != nil {
			return err
		}
		digits := []string{"1"}
		if script == PressTwoThenOne {
			digits = []string{"2", "1"}
		}
		for _, d := range digits {
			action := gatherAction(doc)
			if action == "" {
				return fmt.Errorf("twiliotest: call %s: no <Gather action> to press %s in %s", sid, d, doc)
			}
			f := form("in-progress", answeredBy)
			f.Set("Digits", d)
			f.Set("FinishedOnKey", "")
			if doc, err = s.fetchTwiML(ctx, c, action, f); err != nil {
				return err
			}
		}
	}
	s.updateCall(sid, func(x *Call) { x.Status = status })
	if c.StatusCallback == "" {
		return nil
	}
	f := form(status, answeredBy)
	f.Set("CallDuration", "0")
	return s.post(ctx, c.StatusCallback, f)
}

// fetchTwiML posts a signed voice webhook and records the TwiML answered.
func (s *Server) fetchTwiML(ctx context.Context, c Call, at string, form url.Values) (string, error) {
	target := at
	if s.CallbackTarget != nil {
		target = s.CallbackTarget(at)
	}
	resp, err := s.Deliver(ctx, target, at, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("twiliotest: call %s: %s answered %d", c.SID, at, resp.StatusCode)
	}
	s.updateCall(c.SID, func(x *Call) { x.TwiML = append(x.TwiML, string(body)) })
	return string(body), nil
}

func (s *Server) post(ctx context.Context, at string, form url.Values) error {
	target := at
	if s.CallbackTarget != nil {
		target = s.CallbackTarget(at)
	}
	resp, err := s.Deliver(ctx, target, at, form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("twiliotest: %s answered %d", at, resp.StatusCode)
	}
	return nil
}

// gatherAction finds the action URL of the first <Gather> in a TwiML document.
func gatherAction(doc string) string {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Gather" {
			for _, a := range se.Attr {
				if a.Name.Local == "action" {
					return a.Value
				}
			}
		}
	}
}
