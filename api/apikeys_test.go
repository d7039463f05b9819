package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// rawGET returns an answer's body as sent.
func (h *harness) rawGET(path, key string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// An agency holds several named keys: each made is shown once, listed by
// id, name and prefix (never the key), works at once, and once revoked the
// next request with it is 401. Another agency cannot see or revoke them;
// the last live key is not revoked.
func TestAPIKeys(t *testing.T) {
	h := newHarness(t)
	_, initial := h.agency("North")
	_, keyB := h.agency("South")

	code, out := h.do("GET", "/v1/api-keys", initial, nil)
	keys, _ := out["api_keys"].([]any)
	if code != 200 || len(keys) != 1 || keys[0].(map[string]any)["name"] != "initial" {
		t.Fatalf("keys of a new agency = %d %v; want the one named initial", code, out)
	}
	initialID := keys[0].(map[string]any)["id"].(string)
	if p := keys[0].(map[string]any)["prefix"].(string); !strings.HasPrefix(initial, p) || len(p) >= len(initial)/2 {
		t.Errorf("prefix %q: want a short start of the key", p)
	}

	code, out = h.do("POST", "/v1/api-keys", initial, map[string]any{"name": "billing export"})
	if code != 201 || out["name"] != "billing export" || out["key"] == nil {
		t.Fatalf("create key = %d %v; want 201 with the key", code, out)
	}
	second, secondID := out["key"].(string), out["id"].(string)
	if code, _ := h.do("GET", "/v1/clients", second, nil); code != 200 {
		t.Errorf("the new key = %d; want 200", code)
	}
	if code, out := h.do("POST", "/v1/api-keys", initial, map[string]any{"name": "billing export"}); code != 409 {
		t.Errorf("a second live key with the same name = %d %v; want 409", code, out)
	}
	if code, out := h.do("POST", "/v1/api-keys", initial, map[string]any{"name": " "}); code != 400 {
		t.Errorf("blank name = %d %v; want 400", code, out)
	}

	code, out = h.do("GET", "/v1/api-keys", initial, nil)
	raw := h.rawGET("/v1/api-keys", initial)
	if strings.Contains(raw, second) || strings.Contains(raw, initial) || strings.Contains(raw, "hash") {
		t.Errorf("the key list shows a key or its hash: %s", raw)
	}
	keys = out["api_keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("keys = %v; want 2", keys)
	}
	for _, k := range keys {
		if k.(map[string]any)["last_used_at"] == nil {
			t.Errorf("key %v: last_used_at empty though it was used", k)
		}
	}

	// Another agency sees none of them and cannot revoke them.
	if _, out := h.do("GET", "/v1/api-keys", keyB, nil); len(out["api_keys"].([]any)) != 1 {
		t.Errorf("another agency's key list = %v; want only its own", out)
	}
	if code, _ := h.do("DELETE", "/v1/api-keys/"+secondID, keyB, nil); code != 404 {
		t.Errorf("another agency revoking = %d; want 404", code)
	}

	// Rotation: revoke the initial key with the new one.
	if code, out := h.do("DELETE", "/v1/api-keys/"+initialID, second, nil); code != 200 || out["revoked_at"] == nil {
		t.Fatalf("revoke = %d %v; want 200 with revoked_at", code, out)
	}
	if code, out := h.do("GET", "/v1/clients", initial, nil); code != 401 {
		t.Errorf("a revoked key = %d %v; want 401", code, out)
	}
	if code, _ := h.do("DELETE", "/v1/api-keys/"+initialID, second, nil); code != 404 {
		t.Errorf("revoking again = %d; want 404", code)
	}
	if code, out := h.do("DELETE", "/v1/api-keys/"+secondID, second, nil); code != 409 {
		t.Errorf("revoking the last key = %d %v; want 409", code, out)
	}
	if code, _ := h.do("GET", "/v1/clients", second, nil); code != 200 {
		t.Errorf("the remaining key = %d; want 200", code)
	}
}
