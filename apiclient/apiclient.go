// Package apiclient calls CareCheck's HTTP API the way an agency's own tools
// do: JSON in, JSON out, a bearer key, and the service's refusal as an
// *Error carrying its status and message. `carecheck apply` and
// `carecheck demo` use it, so both speak to the service through one client.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswer bounds what is read of one answer: the API pages its lists,
// so a larger answer is not one of its own.
const maxAnswer = 16 << 20

// Client calls the service at one base URL with one API key (an agency's,
// so the audit names the key that made each change, or the operator's).
type Client struct {
	base string
	key  string
	http *http.Client
}

// New makes a client of the service at base ("https://carecheck.example.org")
// with the given key; hc nil means a client with a 30-second timeout.
func New(base, key string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server: %q is not an http(s) URL", base)
	}
	if key == "" {
		return nil, fmt.Errorf("api key: required")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), key: key, http: hc}, nil
}

// WithKey returns a client of the same service that sends key instead.
func (c *Client) WithKey(key string) *Client {
	d := *c
	d.key = key
	return &d
}

// Error is the service's refusal: its status and its {"error"} text.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// Do sends one request with body (when not nil) as JSON; a 2xx answer's
// JSON goes into out (when not nil), anything else is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
		}
	}
	return nil
}
