package staff

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238's defaults, which every authenticator app reads.
const (
	totpPeriod = 30
	totpSkew   = 1 // one step either side: a phone's clock a little off still works
	totpIssuer = "CareCheck"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a new TOTP secret to show a person once: as text, as an
// otpauth:// URL and as a QR code (a PNG data URL).
type Enrolment struct {
	Secret string
	URL    string
	QR     string
}

// NewEnrolment makes a TOTP secret for account (their email).
func NewEnrolment(account string) (*Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: account, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	return enrolmentOf(key)
}

// EnrolmentFor shows an existing secret again (the enrolment page after a
// wrong code).
func EnrolmentFor(account, secret string) (*Enrolment, error) {
	key, err := otp.NewKeyFromURL(fmt.Sprintf("otpauth://totp/%s:%s?secret=%s&issuer=%s&period=%d&digits=6&algorithm=SHA1",
		totpIssuer, account, secret, totpIssuer, totpPeriod))
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	return enrolmentOf(key)
}

func enrolmentOf(key *otp.Key) (*Enrolment, error) {
	img, err := key.Image(200, 200)
	if err != nil {
		return nil, fmt.Errorf("totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp qr: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// TOTPStep checks a code against a secret at now, one step of skew either
// way, and returns the time step it matched (to refuse its replay).
func TOTPStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	for skew := -totpSkew; skew <= totpSkew; skew++ {
		at := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / totpPeriod, true
		}
	}
	return 0, false
}

// TOTPCode is the code of a secret at t (tests and the demo play the phone with it).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}
