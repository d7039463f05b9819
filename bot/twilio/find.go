package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/carecheck/carecheck/bot"
)

// findSlack widens the search back from the attempt's start: Twilio's
// date_created has whole seconds and Twilio's clock is not Redis's. Small, so
// that an identical text sent to the same person just before is not taken
// for this one (the outbox also refuses a provider id another message owns).
const findSlack = 5 * time.Second

// findPageSize and findMaxPages bound one search. The list is filtered by
// To and From (one person's messages from one number), newest first, so the
// window since a crashed attempt fits in the first page but for a person
// who was sent hundreds of messages within minutes.
const (
	findPageSize = 50
	findMaxPages = 10
)

var _ bot.SentFinder = (*Sender)(nil)

// FindSent asks Twilio whether m was sent since the given time: the newest
// first list of messages from m's sending number (or through its Messaging
// Service) to m.To, matched on the body
// and on date_created (not date_sent, which a message still queued lacks; nor
// the DateSent filter, which is by day and on date_sent). It returns the
// MessageSid of the oldest match, the one closest to the attempt; copies that
// failed or went undelivered do not count. Errors are *bot.SendError, as
// Send's.
func (s *Sender) FindSent(ctx context.Context, m bot.Outbound, since time.Time) (string, bool, error) {
	if m.To == "" || m.Text == "" {
		return "", false, &bot.SendError{Code: "invalid", Err: errors.New("twilio: message needs To and Text")}
	}
	from2 := since.Add(-findSlack).Truncate(time.Second)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	api, tr := s.service(ctx)
	params := (&openapi.ListMessageParams{}).SetTo(m.To).SetPageSize(findPageSize)
	from := ""
	if m.Service == "" {
		// Through a Messaging Service the number is Twilio's choice: the
		// list is filtered by the recipient, matched on the service.
		from = s.from(m)
		params.SetFrom(from)
	}

	var match string
	token, page := "", ""
	for range findMaxPages {
		resp, err := api.PageMessage(params, token, page)
		if err != nil {
			return "", false, classifyAs(withoutQuery(err), tr.status, "list messages")
		}
		older := false // reached messages from before the window
		for _, msg := range resp.Messages {
			created, err := time.Parse(time.RFC1123Z, deref(msg.DateCreated))
			if err != nil {
				return "", false, &bot.SendError{Code: "answer", Err: fmt.Errorf("twilio: list messages: date_created %q: %w", deref(msg.DateCreated), err)}
			}
			if created.Before(from2) {
				older = true
				break
			}
			// A copy that failed or went undelivered is as good as not sent:
			// its status callback may have come before anyone knew its sid.
			st := deref(msg.Status)
			sender := deref(msg.From) == from
			if m.Service != "" {
				sender = deref(msg.MessagingServiceSid) == m.Service
			}
			if deref(msg.Body) == m.Text && deref(msg.To) == m.To && sender && deref(msg.Sid) != "" &&
				deref(msg.Direction) != "inbound" && st != "failed" && st != "undelivered" {
				match = deref(msg.Sid) // newest first: the last match is the oldest
			}
		}
		if older || resp.NextPageUri == nil || *resp.NextPageUri == "" || len(resp.Messages) == 0 {
			return match, match != "", nil
		}
		next, err := url.Parse(*resp.NextPageUri)
		if err != nil {
			return "", false, &bot.SendError{Code: "answer", Err: fmt.Errorf("twilio: list messages: next_page_uri: %w", err)}
		}
		q := next.Query()
		token, page = q.Get("PageToken"), q.Get("Page")
	}
	if match != "" {
		return match, true, nil
	}
	return "", false, &bot.SendError{Code: "answer", Retryable: true,
		Err: fmt.Errorf("twilio: list messages: more than %d messages to this person since %v", findPageSize*findMaxPages, from2)}
}

// withoutQuery drops the query (To and From: phone numbers) from the URL a
// network error names, so that logging the error logs no phone.
func withoutQuery(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			ue.URL = u.String()
		}
	}
	return err
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
