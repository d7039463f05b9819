package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The client sends the key and JSON, decodes a 2xx answer, and turns any
// other answer into an *Error with the service's own words.
func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			if r.Header.Get("Authorization") != "Bearer k1" || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, `{"error":"who are you"}`, http.StatusUnauthorized)
				return
			}
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		case "/refuse":
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":"timezone: unknown zone"}`)
		case "/proxy":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/", "k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out struct{ Name string }
	if err := c.Do(ctx, "POST", "/echo", map[string]string{"name": "North"}, &out); err != nil || out.Name != "North" {
		t.Fatalf("echo = %+v, %v", out, err)
	}
	var e *Error
	if err := c.WithKey("k2").Do(ctx, "POST", "/echo", map[string]string{}, nil); !errors.As(err, &e) || e.Status != 401 || e.Message != "who are you" {
		t.Errorf("another key = %v; want 401 who are you", err)
	}
	if err := c.Do(ctx, "GET", "/refuse", nil, nil); !errors.As(err, &e) || e.Status != 422 || e.Message != "timezone: unknown zone" {
		t.Errorf("refusal = %v; want 422 with the service's words", err)
	}
	if err := c.Do(ctx, "GET", "/proxy", nil, nil); !errors.As(err, &e) || e.Status != 502 || e.Message != "Bad Gateway" {
		t.Errorf("a non-JSON refusal = %v; want 502 Bad Gateway", err)
	}
}

func TestNewRefusesBadURLAndNoKey(t *testing.T) {
	for _, c := range []struct{ base, key string }{{"localhost:8080", "k"}, {"ftp://x", "k"}, {"http://", "k"}, {"http://x", ""}} {
		if _, err := New(c.base, c.key, nil); err == nil {
			t.Errorf("New(%q, %q) = nil error", c.base, c.key)
		}
	}
}
