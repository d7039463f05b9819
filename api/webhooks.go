package api

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/webhooks"
)

// maxWebhookEndpoints bounds an agency's endpoints.
const maxWebhookEndpoints = 10

type webhookEndpointRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// webhookURL checks an endpoint's URL: https, or http to a loopback
// address (a receiver on the same machine).
func webhookURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", invalid("url: an absolute https URL without user or fragment is required")
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", invalid("url: https is required (http only to a loopback address)")
		}
	default:
		return "", invalid("url: https is required")
	}
	return u.String(), nil
}

// handleCreateWebhookEndpoint registers an endpoint; its signing secret is
// in the answer, once.
func handleCreateWebhookEndpoint(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req webhookEndpointRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		u, err := webhookURL(req.URL)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if len(req.Events) == 0 {
			respondErr(w, r, d.Log, invalid("events: at least one of %s", strings.Join(webhooks.Events, ", ")))
			return
		}
		var events []string
		for i, ev := range req.Events {
			if !slices.Contains(webhooks.Events, ev) {
				respondErr(w, r, d.Log, invalid("events[%d]: %q is not an event (%s)", i, ev, strings.Join(webhooks.Events, ", ")))
				return
			}
			if !slices.Contains(events, ev) {
				events = append(events, ev)
			}
		}
		existing, err := d.Store.WebhookEndpoints(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if len(existing) >= maxWebhookEndpoints {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "webhook endpoints: at most 10 per agency"})
			return
		}
		ep := &store.WebhookEndpoint{AgencyID: agencyID(r), URL: u, Events: events, Secret: webhooks.NewSecret()}
		if err := d.Store.CreateWebhookEndpoint(r.Context(), ep); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("webhook endpoint created", "agency_id", ep.AgencyID, "endpoint_id", ep.ID)
		shown := *ep
		shown.Secret = ""
		audit(d, r, "webhook_endpoint", ep.ID, "created", nil, &shown)
		encode(w, http.StatusCreated, ep)
	})
}

// handleListWebhookEndpoints lists the agency's endpoints, never their secrets.
func handleListWebhookEndpoints(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		eps, err := d.Store.WebhookEndpoints(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		for _, ep := range eps {
			ep.Secret = ""
		}
		encode(w, http.StatusOK, map[string]any{"webhook_endpoints": eps})
	})
}

// handleDeleteWebhookEndpoint removes an endpoint: nothing more is sent to it.
func handleDeleteWebhookEndpoint(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := urlParam(r, "id")
		_, err := d.Store.WebhookEndpoint(r.Context(), agencyID(r), id)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.DeleteWebhookEndpoint(r.Context(), agencyID(r), id); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		audit(d, r, "webhook_endpoint", id, "deleted", nil, nil)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleWebhookDeliveries lists an endpoint's delivery attempts, newest first.
func handleWebhookDeliveries(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := urlParam(r, "id")
		if _, err := d.Store.WebhookEndpoint(r.Context(), agencyID(r), id); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ds, err := d.Store.WebhookDeliveries(r.Context(), agencyID(r), id, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"deliveries": ds})
	})
}
