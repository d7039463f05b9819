package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CaseManagerEmail signs the seeded case manager in to the console.
const CaseManagerEmail = "dana@riverside-demo.example"

// consoleSignIn gives the seeded case manager a console password the way
// a person gets one: the API invites her, and the invitation page takes a
// password (random for each demo). It fills ConsoleURL and ConsolePassword.
func (a *App) consoleSignIn(ctx context.Context, cm string) error {
	var inv struct {
		URL string `json:"url"`
	}
	if err := a.call(ctx, "POST", "/v1/case-managers/"+cm+"/invite", a.APIKey, nil, &inv); err != nil {
		return err
	}
	password := "demo " + randomHex(4) + " " + randomHex(4)
	form := url.Values{"password": {password}, "confirm": {password}}
	req, err := http.NewRequestWithContext(ctx, "POST", inv.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noFollow := &http.Client{Timeout: a.client.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		return fmt.Errorf("console password: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("console password: the invitation page answered %d", resp.StatusCode)
	}
	a.ConsoleURL = a.ServiceURL + "/console/login"
	a.ConsolePassword = password
	return nil
}
