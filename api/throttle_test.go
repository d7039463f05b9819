package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carecheck/carecheck/api"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// from is an HTTP client whose connections come from a given loopback
// address (127.0.0.0/8 is all local on Linux), so one test plays several
// sources against a real server.
func from(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// call sends one request with a bearer secret (and X-Forwarded-For
// entries) and returns the status and the Retry-After header.
func call(t *testing.T, c *http.Client, method, url, secret, body string, forwardedFor ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	for _, f := range forwardedFor {
		req.Header.Add("X-Forwarded-For", f)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

type throttleRig struct {
	urls  []string // servers sharing one Redis, like several serve processes
	logs  *lockedBuffer
	clock *fakeClock
}

func newThrottleRig(t *testing.T, servers int, proxies ...netip.Prefix) *throttleRig {
	t.Helper()
	rs := redistest.New(t)
	rig := &throttleRig{logs: &lockedBuffer{}, clock: &fakeClock{t: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)}}
	for range servers {
		st := store.New(rs.Client(t), nil)
		srv := httptest.NewServer(newServer(t, api.Deps{
			Store: st, Log: slog.New(slog.NewJSONHandler(rig.logs, nil)), Registry: prometheus.NewRegistry(),
			OperatorToken: operator, Now: rig.clock.Now, TrustedProxies: proxies,
		}))
		t.Cleanup(srv.Close)
		rig.urls = append(rig.urls, srv.URL)
	}
	return rig
}

// 200 wrong keys from one address: the first 10 are 401 and logged once each
// with the address and route; then 429 with Retry-After, even for the right
// key; the right key from another address still answers 200.
func TestWrongKeysFromOneAddressAreThrottled(t *testing.T) {
	rig := newThrottleRig(t, 1)
	base := rig.urls[0]
	attacker, other := from(t, "127.0.0.1"), from(t, "127.0.0.2")
	key := createAgency(t, other, base)

	var wrong []string
	counts := map[int]int{}
	for i := range 200 {
		w := fmt.Sprintf("cc_wrongkey%03dXq7", i)
		wrong = append(wrong, w)
		code, retry := call(t, attacker, "GET", base+"/v1/clients", w, "")
		counts[code]++
		if code == 429 && retry != "60" {
			t.Errorf("attempt %d: Retry-After = %q; want \"60\"", i+1, retry)
		}
		if (i < 10 && code != 401) || (i >= 10 && code != 429) {
			t.Errorf("attempt %d = %d; want %d", i+1, code, map[bool]int{true: 401, false: 429}[i < 10])
		}
	}
	if counts[401] != 10 || counts[429] != 190 {
		t.Errorf("200 wrong keys: %v; want 10×401 then 190×429", counts)
	}
	// While throttled the secret is not looked at: the right key is refused too,
	// and so is the operator token.
	if code, _ := call(t, attacker, "GET", base+"/v1/clients", key, ""); code != 429 {
		t.Errorf("right key from the throttled address = %d; want 429", code)
	}
	if code, _ := call(t, attacker, "POST", base+"/v1/agencies", operator, `{"name":"B","timezone":"America/Chicago"}`); code != 429 {
		t.Errorf("operator token from the throttled address = %d; want 429", code)
	}
	// The service is up and answers the right key from elsewhere.
	if code, _ := call(t, other, "GET", base+"/v1/clients", key, ""); code != 200 {
		t.Errorf("right key from another address = %d; want 200", code)
	}
	if code, _ := call(t, other, "GET", base+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz during the attack = %d; want 200", code)
	}

	logs := rig.logs.String()
	var failures []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"authentication failed"`) {
			failures = append(failures, line)
		}
	}
	if len(failures) != 10 {
		t.Errorf("logged %d authentication failures; want 10 (one per checked failure)", len(failures))
	}
	for _, line := range failures {
		if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, `"remote":"127.0.0.1"`) || !strings.Contains(line, `"route":"/v1/clients"`) {
			t.Errorf("failure line lacks level, address or route: %s", line)
		}
	}
	for _, secret := range append(wrong, key, operator) {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a presented secret %q", secret)
		}
	}

	// After the minute the address may try again, and the right key works.
	rig.clock.Add(61 * time.Second)
	if code, _ := call(t, attacker, "GET", base+"/v1/clients", key, ""); code != 200 {
		t.Errorf("right key a minute later = %d; want 200", code)
	}
	if code, _ := call(t, attacker, "GET", base+"/v1/clients", "cc_stillwrong", ""); code != 401 {
		t.Errorf("wrong key a minute later = %d; want 401", code)
	}
}

// An attacker who holds one valid key cannot use it to reset the count
// between guesses; and every process on the Redis counts the same failures.
func TestSuccessDoesNotResetFailuresAndProcessesShareTheCount(t *testing.T) {
	rig := newThrottleRig(t, 2)
	attacker := from(t, "127.0.0.3")
	key := createAgency(t, from(t, "127.0.0.4"), rig.urls[0])
	for i := range 10 {
		base := rig.urls[i%2]
		if code, _ := call(t, attacker, "GET", base+"/v1/agency", key, ""); code != 200 {
			t.Fatalf("right key before guess %d = %d; want 200", i+1, code)
		}
		if code, _ := call(t, attacker, "GET", base+"/v1/agency", fmt.Sprintf("cc_guess%d", i), ""); code != 401 {
			t.Fatalf("guess %d = %d; want 401", i+1, code)
		}
	}
	for _, base := range rig.urls {
		if code, retry := call(t, attacker, "GET", base+"/v1/agency", "cc_guess10", ""); code != 429 || retry == "" {
			t.Errorf("11th guess, alternated with the right key over two processes = %d (Retry-After %q); want 429", code, retry)
		}
	}
	// A wrong operator token counts toward the same address's limit.
	other := from(t, "127.0.0.5")
	for i := range 10 {
		if code, _ := call(t, other, "POST", rig.urls[0]+"/v1/agencies", "not-the-token", "{}"); code != 401 {
			t.Fatalf("wrong operator token %d = %d; want 401", i+1, code)
		}
	}
	if code, _ := call(t, other, "GET", rig.urls[1]+"/v1/agency", key, ""); code != 429 {
		t.Errorf("after 10 wrong operator tokens, an API key from that address = %d; want 429", code)
	}
}

func createAgency(t *testing.T, c *http.Client, base string, forwardedFor ...string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/agencies", strings.NewReader(`{"name":"A","timezone":"America/Chicago"}`))
	req.Header.Set("Authorization", "Bearer "+operator)
	for _, f := range forwardedFor {
		req.Header.Add("X-Forwarded-For", f)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		APIKey string `json:"api_key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create agency = %d %v", resp.StatusCode, err)
	}
	return out.APIKey
}

// Behind a trusted reverse proxy each client is throttled by the address the
// proxy saw, so one guesser does not lock out everyone behind the proxy; a
// client that writes X-Forwarded-For itself gains nothing from it.
func TestThrottleBehindATrustedProxy(t *testing.T) {
	rig := newThrottleRig(t, 1, netip.MustParsePrefix("127.0.0.6/32"))
	base := rig.urls[0]
	proxy, direct := from(t, "127.0.0.6"), from(t, "127.0.0.7")
	key := createAgency(t, proxy, base, "198.51.100.20")
	for i := range 10 {
		// The guesser forges a new address on the left each time; the proxy appends the real one.
		forged := fmt.Sprintf("203.0.113.%d, 198.51.100.10", i)
		if code, _ := call(t, proxy, "GET", base+"/v1/agency", "cc_guess", "", forged); code != 401 {
			t.Fatalf("guess %d through the proxy = %d; want 401", i+1, code)
		}
	}
	if code, _ := call(t, proxy, "GET", base+"/v1/agency", key, "", "198.51.100.10"); code != 429 {
		t.Errorf("the guesser through the proxy = %d; want 429", code)
	}
	if code, _ := call(t, proxy, "GET", base+"/v1/agency", key, "", "198.51.100.20"); code != 200 {
		t.Errorf("another client through the same proxy = %d; want 200", code)
	}
	if !strings.Contains(rig.logs.String(), `"remote":"198.51.100.10"`) {
		t.Errorf("failures not logged with the client's address behind the proxy:\n%s", rig.logs)
	}
	// Not through the proxy, a forwarded-for header is just text: the peer counts.
	for i := range 10 {
		call(t, direct, "GET", base+"/v1/agency", "cc_guess", "", fmt.Sprintf("192.0.2.%d", i))
	}
	if code, _ := call(t, direct, "GET", base+"/v1/agency", key, "", "192.0.2.99"); code != 429 {
		t.Errorf("a direct guesser forging X-Forwarded-For = %d; want 429", code)
	}
}
