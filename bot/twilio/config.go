// Package twilio is CareCheck's SMS channel: a bot.Sender that sends through
// Twilio's REST API (twilio-go), and the two webhooks Twilio calls, inbound
// SMS and delivery status, each verified by its X-Twilio-Signature before
// anything is passed on. Twilio types never leave this package.
//
// twiliotest holds a fake Twilio for tests and the demo.
package twilio

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Webhook paths, relative to Config.PublicURL.
const (
	SMSPath    = "/webhooks/twilio/sms"
	StatusPath = "/webhooks/twilio/status"
)

// Config is the Twilio channel's configuration (TWILIO_* and
// CARECHECK_PUBLIC_URL in the environment).
type Config struct {
	AccountSID string // TWILIO_ACCOUNT_SID, "AC…"
	AuthToken  string // TWILIO_AUTH_TOKEN: REST API password and webhook signing key
	FromNumber string // TWILIO_FROM_NUMBER, E.164
	// APIURL is TWILIO_API_URL; "" means Twilio's own (https://api.twilio.com).
	// Only its scheme, host and path prefix are used.
	APIURL string
	// PublicURL is the base URL the providers call, e.g. https://cc.example.org.
	// Webhook signatures are computed over it; status callbacks point at it.
	PublicURL string
}

// Enabled reports whether the channel has credentials. A channel without them
// is off.
func (c Config) Enabled() bool {
	return c.AccountSID != "" && c.AuthToken != "" && c.FromNumber != ""
}

// Validate checks the configuration at boot, so that bad credentials fail at
// start and not on the first crisis message. Secrets are never echoed.
func (c Config) Validate() error {
	var errs []error
	if c.AccountSID == "" || !alnum(c.AccountSID) {
		errs = append(errs, errors.New("TWILIO_ACCOUNT_SID: must be set and alphanumeric (AC…)"))
	}
	if c.AuthToken == "" || !alnum(c.AuthToken) {
		errs = append(errs, errors.New("TWILIO_AUTH_TOKEN: must be set and alphanumeric"))
	}
	if c.FromNumber == "" {
		errs = append(errs, errors.New("TWILIO_FROM_NUMBER: must be set"))
	}
	if c.APIURL != "" {
		if _, err := baseURL(c.APIURL); err != nil {
			errs = append(errs, fmt.Errorf("TWILIO_API_URL: %w", err))
		}
	}
	if c.PublicURL != "" {
		if _, err := baseURL(c.PublicURL); err != nil {
			errs = append(errs, fmt.Errorf("CARECHECK_PUBLIC_URL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// publicBase is PublicURL without its trailing slash.
func (c Config) publicBase() string { return strings.TrimRight(c.PublicURL, "/") }

// baseURL parses an absolute http(s) URL without query or fragment.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not carry a query, fragment or user info")
	}
	return u, nil
}

// alnum reports whether s holds only ASCII letters and digits (twilio-go
// refuses anything else in credentials).
func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
			return false
		}
	}
	return true
}
