package api

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/carecheck/carecheck/store"
)

// maxSMSNumbers bounds the numbers of one agency's SMS identity.
const maxSMSNumbers = 20

// serviceSID is a Twilio Messaging Service SID: MG and 32 hex digits.
var serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

// smsIdentityRequest is the body of PUT /v1/agency/sending-identity.
type smsIdentityRequest struct {
	SMS *struct {
		Numbers             []string `json:"numbers"`
		MessagingServiceSID string   `json:"messaging_service_sid"`
	} `json:"sms"`
}

// identityView is an agency's sending identity as the API shows it (and
// the audit records it): its own SMS identity, or default true when it
// sends from the service's default number.
type identityView struct {
	SMS     *store.SMSIdentity `json:"sms"`
	Default bool               `json:"default"`
}

func viewOf(id *store.SMSIdentity) identityView { return identityView{SMS: id, Default: id == nil} }

// smsIdentity validates the requested identity: numbers in E.164 (each
// once, at most maxSMSNumbers), a Messaging Service SID of MG and 32 hex
// digits (kept with lower-case hex, as Twilio writes them), at least one
// of the two.
func (req smsIdentityRequest) smsIdentity() (store.SMSIdentity, error) {
	if req.SMS == nil {
		return store.SMSIdentity{}, invalid(`sms: required ({"numbers":[…]} or {"messaging_service_sid":"MG…"}); an agency's own identity can be replaced, not removed`)
	}
	var id store.SMSIdentity
	if len(req.SMS.Numbers) > maxSMSNumbers {
		return id, invalid("sms.numbers: at most %d", maxSMSNumbers)
	}
	for i, raw := range req.SMS.Numbers {
		field := "sms.numbers[" + strconv.Itoa(i) + "]"
		n, err := e164(field, raw)
		if err != nil {
			return store.SMSIdentity{}, err
		}
		for _, have := range id.Numbers {
			if have == n {
				return store.SMSIdentity{}, invalid("%s: listed twice", field)
			}
		}
		id.Numbers = append(id.Numbers, n)
	}
	if sid := strings.TrimSpace(req.SMS.MessagingServiceSID); sid != "" {
		if !serviceSID.MatchString(sid) {
			return store.SMSIdentity{}, invalid("sms.messaging_service_sid: MG followed by 32 hex digits")
		}
		id.MessagingServiceSID = "MG" + strings.ToLower(sid[2:])
	}
	if len(id.Numbers) == 0 && id.MessagingServiceSID == "" {
		return store.SMSIdentity{}, invalid("sms: numbers or messaging_service_sid required")
	}
	return id, nil
}

// handleGetSendingIdentity shows the calling agency's sending identity.
func handleGetSendingIdentity(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, viewOf(a.SMS))
	})
}

// handlePutSendingIdentity gives the calling agency its own SMS sending
// identity, or replaces it. A number or service another agency claimed (or
// the service's default number) is 409 and names nobody; the agency's
// people's phones move into its own phone space.
func handlePutSendingIdentity(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req smsIdentityRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		id, err := req.smsIdentity()
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, saved, err := d.Store.SetSMSIdentity(r.Context(), agencyID(r), id)
		if saved {
			// Recorded even when what follows the save failed (the repeat finishes it).
			audit(d, r, "sending_identity", agencyID(r), "changed", viewOf(old), viewOf(&id))
		}
		if errors.Is(err, store.ErrConflict) {
			err = &Error{Code: CodeConflict, Message: "sms: a number or messaging service given is another sending identity's"}
		}
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("sending identity changed", "agency_id", agencyID(r), "numbers", len(id.Numbers), "messaging_service", id.MessagingServiceSID != "")
		encode(w, http.StatusOK, viewOf(&id))
	})
}
