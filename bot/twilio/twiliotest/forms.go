package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
)

// Sign returns the X-Twilio-Signature Twilio sends with a POST of form to
// fullURL (the webhook URL as configured at Twilio, query included):
// base64(HMAC-SHA1(authToken, fullURL + each key and value, keys sorted)).
// A repeated key contributes each of its values, sorted, as Twilio's own
// libraries compute it.
func Sign(authToken, fullURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		vs := slices.Clone(form[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FakeAccountSID is the AccountSid that SMSForm writes; Server.DeliverSMS
// replaces it with the fake's own.
const FakeAccountSID = "AC00000000000000000000000000000000"

// SMSForm returns an inbound SMS webhook form as Twilio sends it for a text
// body from one number to another, geography included for +1 and +52
// numbers (Twilio adds it when it knows it).
func SMSForm(sid, from, to, body string) url.Values {
	f := url.Values{
		"AccountSid":    {FakeAccountSID},
		"ApiVersion":    {"2010-04-01"},
		"Body":          {body},
		"From":          {from},
		"MessageSid":    {sid},
		"NumMedia":      {"0"},
		"NumSegments":   {fmt.Sprint(Segments(body))},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"SmsStatus":     {"received"},
		"To":            {to},
	}
	for prefix, num := range map[string]string{"From": from, "To": to} {
		country, state, city, zip := geo(num)
		f.Set(prefix+"Country", country)
		f.Set(prefix+"State", state)
		f.Set(prefix+"City", city)
		f.Set(prefix+"Zip", zip)
	}
	return f
}

// geo is the rough geography Twilio attaches to a number.
func geo(num string) (country, state, city, zip string) {
	switch {
	case strings.HasPrefix(num, "+1312"), strings.HasPrefix(num, "+1773"):
		return "US", "IL", "CHICAGO", "60601"
	case strings.HasPrefix(num, "+1"):
		return "US", "", "", ""
	case strings.HasPrefix(num, "+52"):
		return "MX", "", "", ""
	}
	return "", "", "", ""
}

// StatusForm returns the status callback form Twilio POSTs for m reaching
// status ("queued", "sent", "delivered", "undelivered", "failed"); errorCode
// is set for undelivered and failed ("30003").
func StatusForm(accountSID string, m Message, status, errorCode string) url.Values {
	f := url.Values{
		"AccountSid":    {accountSID},
		"ApiVersion":    {"2010-04-01"},
		"From":          {m.From},
		"MessageSid":    {m.SID},
		"MessageStatus": {status},
		"SmsSid":        {m.SID},
		"SmsStatus":     {status},
		"To":            {m.To},
	}
	if errorCode != "" {
		f.Set("ErrorCode", errorCode)
	}
	if status == "delivered" {
		f.Set("RawDlrDoneDate", m.At.UTC().Format("0601021504"))
	}
	return f
}

// Segments is how many SMS segments Twilio bills body as: 160 (153 when
// split) GSM-7 characters, or 70 (67) UCS-2 code units when any character is
// outside GSM-7.
func Segments(body string) int {
	gsm, n := true, 0
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExt, r):
			n += 2
		default:
			gsm = false
		}
	}
	single, multi := 160, 153
	if !gsm {
		n = 0
		for _, r := range body {
			n++
			if r > 0xFFFF {
				n++ // surrogate pair
			}
		}
		single, multi = 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExt   = "^{}\\[~]|€\f"
)

// newToken is a random idempotency token, as Twilio sends with each webhook.
func newToken() string {
	return fmt.Sprintf("%016x-%016x", rand.Uint64(), rand.Uint64())
}

// errorText is Twilio's message for code about a send to to. Like Twilio's
// own, some quote the recipient's number (21211): what a careless log of a
// provider error leaks.
func errorText(code int, to string) string {
	switch code {
	case 20003:
		return "Authenticate"
	case 20429:
		return "Too Many Requests"
	case 20500:
		return "Internal Server Error"
	case 21211:
		return fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)
	case 21408:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21614:
		return "'To' number is not a valid mobile number"
	case 30007:
		return "Message filtered"
	}
	return "Error"
}
