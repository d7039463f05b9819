package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/carecheck/carecheck/api/throttle"
)

// config is every setting, read from the environment (README.md
// "Configuration" names them; docs/design.md "The outside surface").
type config struct {
	Addr string `env:"CARECHECK_ADDR" envDefault:":8080"`
	// AdminAddr is where /metrics and pprof listen; "off" (or set empty) turns it off.
	AdminAddr string `env:"CARECHECK_ADMIN_ADDR" envDefault:"127.0.0.1:9090"`
	PublicURL string `env:"CARECHECK_PUBLIC_URL"`
	RedisURL  string `env:"REDIS_URL"`
	// RedisAutoPipeline puts the per-message round trips on go-redis's
	// full-duplex auto-pipeliner (one node only); false is the way back to
	// the pooled client should that experimental path misbehave.
	RedisAutoPipeline bool   `env:"CARECHECK_REDIS_AUTOPIPELINE" envDefault:"true"`
	OperatorToken     string `env:"CARECHECK_OPERATOR_TOKEN"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the
	// client for the failed-authentication throttle (IPs and CIDRs, commas).
	TrustedProxies string `env:"CARECHECK_TRUSTED_PROXIES"`
	LogLevel       string `env:"CARECHECK_LOG_LEVEL" envDefault:"info"`

	TwilioAccountSID string  `env:"TWILIO_ACCOUNT_SID"`
	TwilioAuthToken  string  `env:"TWILIO_AUTH_TOKEN"`
	TwilioFrom       string  `env:"TWILIO_FROM_NUMBER"`
	TwilioAPIURL     string  `env:"TWILIO_API_URL"`
	TwilioRate       float64 `env:"TWILIO_MESSAGES_PER_SECOND" envDefault:"1"`
	// TwilioVoice lets contact rules call staff (Twilio Voice) when Twilio
	// and the public URL are set; false makes a voice rule an SMS.
	TwilioVoice bool `env:"TWILIO_VOICE" envDefault:"true"`

	TelegramToken  string `env:"TELEGRAM_BOT_TOKEN"`
	TelegramSecret string `env:"TELEGRAM_WEBHOOK_SECRET"`
	TelegramAPIURL string `env:"TELEGRAM_API_URL"`
	TelegramBot    string `env:"TELEGRAM_BOT_USERNAME" envDefault:"CareCheckBot"`
}

// minOperatorToken is the shortest operator token accepted: a guessable one
// would let anyone create agencies.
const minOperatorToken = 32

// adminOff is the CARECHECK_ADMIN_ADDR that turns the admin listener off.
const adminOff = "off"

// processEnv is run's getenv over the process environment (os.LookupEnv):
// an empty variable reads as unset, except CARECHECK_ADMIN_ADDR, where set
// but empty means off.
func processEnv(lookup func(string) (string, bool)) func(string) string {
	return func(k string) string {
		v, ok := lookup(k)
		if ok && v == "" && k == "CARECHECK_ADMIN_ADDR" {
			return adminOff
		}
		return v
	}
}

// usageError is a mistake in how carecheck was called; it exits 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	environ := map[string]string{}
	for _, k := range []string{"CARECHECK_ADDR", "CARECHECK_ADMIN_ADDR", "CARECHECK_PUBLIC_URL", "REDIS_URL", "CARECHECK_REDIS_AUTOPIPELINE", "CARECHECK_OPERATOR_TOKEN", "CARECHECK_TRUSTED_PROXIES", "CARECHECK_LOG_LEVEL",
		"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_API_URL", "TWILIO_MESSAGES_PER_SECOND", "TWILIO_VOICE",
		"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_URL", "TELEGRAM_BOT_USERNAME"} {
		if v := getenv(k); v != "" {
			environ[k] = v
		}
	}
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		var pe env.ParseError
		if errors.As(err, &pe) {
			if f, ok := reflect.TypeOf(c).FieldByName(pe.Name); ok {
				return c, usageError{fmt.Sprintf("bad config: %s: cannot read %s: %v", f.Tag.Get("env"), pe.Type, errors.Unwrap(pe.Err))}
			}
		}
		return c, usageError{fmt.Sprintf("bad config: %v", err)}
	}
	return c, c.validate()
}

func (c config) validate() error {
	bad := func(name, why string) error { return usageError{fmt.Sprintf("bad config: %s %s", name, why)} }
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("CARECHECK_PUBLIC_URL", "must be an http(s) URL such as https://carecheck.example.org")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return bad("REDIS_URL", "must be a redis:// or rediss:// URL")
		}
	}
	twilio := []string{c.TwilioAccountSID, c.TwilioAuthToken, c.TwilioFrom}
	set := 0
	for _, v := range twilio {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return bad("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER", "must be set together")
	}
	if set == 3 {
		if !strings.HasPrefix(c.TwilioAccountSID, "AC") {
			return bad("TWILIO_ACCOUNT_SID", `must start with "AC"`)
		}
		if !strings.HasPrefix(c.TwilioFrom, "+") {
			return bad("TWILIO_FROM_NUMBER", "must be in E.164 form (+15551234567)")
		}
		if c.PublicURL == "" {
			return bad("CARECHECK_PUBLIC_URL", "is required with Twilio: signatures are computed over it")
		}
	}
	if _, err := throttle.ParseProxies(c.TrustedProxies); err != nil {
		return bad("CARECHECK_TRUSTED_PROXIES", fmt.Sprintf("must list IP addresses or CIDR prefixes separated by commas: %v", err))
	}
	if c.AdminAddr != adminOff {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return bad("CARECHECK_ADMIN_ADDR", `must be host:port (default 127.0.0.1:9090), or "off"`)
		}
	}
	if !(c.TwilioRate == 0 || c.TwilioRate >= 0.01 && c.TwilioRate <= 1000) {
		return bad("TWILIO_MESSAGES_PER_SECOND", "must be 0 (no pacing) or from 0.01 to 1000 messages a second")
	}
	if c.TelegramToken != "" && c.TelegramSecret == "" {
		return bad("TELEGRAM_WEBHOOK_SECRET", "is required with TELEGRAM_BOT_TOKEN")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("CARECHECK_LOG_LEVEL", "must be debug, info, warn or error")
	}
	return nil
}
