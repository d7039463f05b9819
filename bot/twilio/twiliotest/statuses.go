package twiliotest

import (
	"fmt"
	"net/http"
	"strings"
)

// ScriptStatuses makes the fake post these status callbacks, signed and in
// order, for every message it accepts to number from now on, with or
// without AutoStatus: {"sent", "undelivered"} plays a handset that cannot
// be reached, {"failed"} a carrier that refused the message. A status may
// name its ErrorCode after a colon ("undelivered:30005"); undelivered and
// failed carry 30003 otherwise. No statuses clears the script.
func (s *Server) ScriptStatuses(number string, statuses ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scripts == nil {
		s.scripts = map[string][]string{}
	}
	if len(statuses) == 0 {
		delete(s.scripts, number)
		return
	}
	s.scripts[number] = append([]string(nil), statuses...)
}

// statusesFor is what a message to number gets: its script, else the
// AutoStatus statuses, else nil (no callbacks). Call with s.mu held.
func (s *Server) statusesFor(number string) []string {
	if st, ok := s.scripts[number]; ok {
		return st
	}
	if !s.AutoStatus {
		return nil
	}
	if s.Statuses == nil {
		return []string{"queued", "sent", "delivered"}
	}
	return s.Statuses
}

// sendStatuses posts the status callbacks of m, in order.
func (s *Server) sendStatuses(m Message, statuses []string) {
	defer s.wg.Done()
	target := m.StatusCallback
	if s.CallbackTarget != nil {
		target = s.CallbackTarget(target)
	}
	for _, st := range statuses {
		st, code, _ := strings.Cut(st, ":")
		if code == "" && (st == "undelivered" || st == "failed") {
			code = "30003" // unreachable destination handset
		}
		s.SetStatus(m.SID, st)
		resp, err := s.Deliver(s.ctx, target, m.StatusCallback, StatusForm(s.accountSID, m, st, code))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status callback %s for %s: HTTP %d", st, m.SID, resp.StatusCode)
			}
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			s.sendErrs = append(s.sendErrs, err)
			s.mu.Unlock()
		}
	}
}
