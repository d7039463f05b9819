package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// The on-call person: the policy's last step is the rotation she is on,
// and her contact rule is a phone call at once.
const (
	// OnCallName is the person on call.
	OnCallName = "Noor Haddad"
	// OnCallPhone is the phone her calls ring.
	OnCallPhone = "+13125550193"
	// RotationName is her rotation.
	RotationName = "Night line"
)

// seedOnCall adds the on-call person, who takes alerts by phone call, and
// a daily rotation of her alone; it returns the rotation's id. Her phone
// answers and presses 1 (the fake Twilio plays it, signed as Twilio does).
func (a *App) seedOnCall(ctx context.Context) (string, error) {
	noor, err := a.create(ctx, "/v1/case-managers", map[string]any{"name": OnCallName, "phone": OnCallPhone,
		"contact_rules": []map[string]any{{"after": "0s", "method": "voice"}}})
	if err != nil {
		return "", err
	}
	a.names[noor] = OnCallName + " (on call)"
	loc, err := time.LoadLocation(demoTimezone)
	if err != nil {
		return "", err
	}
	rot, err := a.create(ctx, "/v1/rotations", map[string]any{"name": RotationName, "staff": []string{noor},
		"handoff": "daily", "at": "08:00", "start": time.Now().In(loc).AddDate(0, 0, -1).Format(time.DateOnly)})
	if err != nil {
		return "", err
	}
	a.twilio.ScriptCall(OnCallPhone, twiliotest.PressOne)
	return rot, nil
}

// printCalls prints each call the service places, and how it ended, until
// ctx ends. Her phone answers the next call too.
func (a *App) printCalls(ctx context.Context, w io.Writer) {
	printed := map[string]string{} // call sid → the status printed ("" placed)
	for {
		c, err := a.twilio.WaitForCall(ctx, func(c twiliotest.Call) bool {
			st, seen := printed[c.SID]
			return !seen || st != c.Status
		})
		if err != nil {
			return
		}
		who := c.To
		if c.To == OnCallPhone {
			who = OnCallName + " (on call, " + RotationName + ")"
		}
		if _, seen := printed[c.SID]; !seen {
			fmt.Fprintf(w, "call placed to %s: %s\n", who, c.SID)
			if c.To == OnCallPhone {
				a.twilio.ScriptCall(OnCallPhone, twiliotest.PressOne)
			}
		}
		printed[c.SID] = c.Status
		if c.Status != "" {
			fmt.Fprintf(w, "call %s ended: %s%s\n", c.SID, c.Status, pressed(c))
		}
	}
}

// pressed says what the call's TwiML shows of the key presses: the alert
// read, then the answer to a 1.
func pressed(c twiliotest.Call) string {
	if len(c.TwiML) < 2 {
		return ""
	}
	return "; the alert was read, 1 pressed: the alert is theirs"
}
