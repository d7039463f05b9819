// Package twiliotest is a fake Twilio for tests and the demo, in the manner of
// net/http/httptest: a real HTTP server on loopback that speaks enough of the
// REST API for twilio-go's CreateMessage, ListMessage/PageMessage and
// CreateCall, records what was sent, fails on demand, sends correctly signed
// webhooks as Twilio would, and plays calls by script (calls.go).
package twiliotest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Message is one message the fake accepted.
type Message struct {
	SID  string // "SM" + 32 hex digits
	To   string // the recipient, E.164
	From string // the sending number ("" when a Messaging Service without numbers sent it)
	// MessagingServiceSID is the Messaging Service the send named ("" when it
	// named a From number instead).
	MessagingServiceSID string
	Body                string    // the text
	StatusCallback      string    // where status callbacks go, "" for none
	At                  time.Time // when the fake accepted it (Server.Now)
}

// Server is a fake Twilio REST API. Create it with NewServer, stop it with
// Close. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake, http://127.0.0.1:port: TWILIO_API_URL.
	URL string

	// AutoStatus, when true, makes the fake POST signed status callbacks
	// (Statuses, in order) to each accepted message's StatusCallback.
	// Set it before the first send.
	AutoStatus bool
	// Statuses are the callbacks AutoStatus sends, in order; nil means
	// queued, sent, delivered. Real Twilio repeats and reorders them: try
	// {"sent", "delivered", "sent"}. "undelivered" and "failed" carry
	// ErrorCode 30003.
	Statuses []string
	// CallbackTarget, if set, maps a StatusCallback URL (which signatures are
	// computed over) to the URL actually called, for a PublicURL that is not
	// reachable from the test. Set it before the first send.
	CallbackTarget func(statusCallback string) string
	// Now is the fake's clock (nil: time.Now). Set it before the first send.
	Now func() time.Time

	accountSID, authToken string
	srv                   *http.Server
	client                *http.Client
	ctx                   context.Context // cancelled by Close
	cancel                context.CancelFunc
	wg                    sync.WaitGroup // status callback goroutines

	mu       sync.Mutex
	closed   bool
	msgs     []Message
	changed  chan struct{} // closed and replaced when msgs grows
	fails    []failure     // scripted answers, FailNext
	failRate float64
	failRNG  *rand.Rand
	sidRNG   *rand.Rand
	sendErrs []error           // status callback delivery errors
	statuses map[string]string // MessageSid → last status (SetStatus, AutoStatus); "queued" when absent

	book     callBook            // voice calls (calls.go)
	scripts  map[string][]string // recipient → its messages' status callbacks (ScriptStatuses)
	services map[string][]string // Messaging Service SID → its numbers (AddService)
}

type failure struct{ status, code int }

// NewServer starts a fake Twilio for one account on 127.0.0.1:0. Requests
// must carry Basic auth accountSID:authToken (401 otherwise); webhooks it
// sends are signed with authToken.
func NewServer(accountSID, authToken string) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("twiliotest: listen: %v", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:        "http://" + ln.Addr().String(),
		accountSID: accountSID,
		authToken:  authToken,
		client:     &http.Client{Timeout: 10 * time.Second},
		ctx:        ctx,
		cancel:     cancel,
		changed:    make(chan struct{}),
		failRNG:    rand.New(rand.NewPCG(1, 2)),
		sidRNG:     rand.New(rand.NewPCG(3, 4)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", restAPI{s}.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", restAPI{s}.listMessages)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", restAPI{s}.createCall)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s
}

// Close stops the server at once (open connections are cut, so a client
// sees a network error), lets status callbacks already started finish (up to
// 5 s, then cuts them) and waits for them.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	s.closed = true // handlers still running start no more callbacks
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	s.cancel()
	<-done
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor returns the first accepted message, past or future, for which pred
// is true, or ctx's error. pred runs without the fake's lock held.
func (s *Server) WaitFor(ctx context.Context, pred func(Message) bool) (Message, error) {
	seen := 0
	for {
		s.mu.Lock()
		fresh := s.msgs[seen:len(s.msgs):len(s.msgs)]
		changed := s.changed
		s.mu.Unlock()
		for _, m := range fresh {
			if pred(m) {
				return m, nil
			}
		}
		seen += len(fresh)
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("twiliotest: wait for message: %w", ctx.Err())
		}
	}
}

// FailNext makes the next n sends fail with HTTP status and Twilio error code
// (0: none), answered as Twilio does: {"code":21610,"message":...,"status":400}.
// The message is Twilio's: 21211's quotes the number the send was to.
func (s *Server) FailNext(n int, status int, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, failure{status, code})
	}
}

// SetFailureRate makes each send (after those scripted by FailNext) fail with
// 500 / 20500 with probability p, drawn from a fixed-seed generator so a test
// run is repeatable.
func (s *Server) SetFailureRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate = p
}

// AddService makes a Messaging Service exist in the fake's account, with
// the numbers in its sender pool: a send through it goes from one of them,
// the same one for a recipient every time (Twilio's sticky sender), or from
// no number the fake knows ("") when it has none. A send naming a service
// the account does not have fails with 21701, as Twilio's does.
func (s *Server) AddService(sid string, numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services == nil {
		s.services = map[string][]string{}
	}
	s.services[sid] = append([]string(nil), numbers...)
}

// CallbackErrors returns the errors met while delivering status callbacks
// (AutoStatus), for tests that want none.
func (s *Server) CallbackErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.sendErrs...)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

var (
	e164       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// sticky picks one of n numbers for a recipient, the same one every time.
func sticky(to string, n int) int {
	var h uint32
	for i := 0; i < len(to); i++ {
		h = h*31 + uint32(to[i])
	}
	return int(h % uint32(n))
}

// orNull is v, or JSON null for "" (as Twilio shows a field it has no value for).
func orNull(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// restAPI answers the Messages REST resource the fake speaks, on behalf of
// its Server (the recorded messages and the scripted failures live there).
type restAPI struct{ *Server }

// authorized answers 401 or 404 as Twilio does unless r carries the
// account's credentials and names its account.
func (s restAPI) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.accountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.authToken)) != 1 {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	if r.PathValue("sid") != s.accountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return false
	}
	return true
}

func (s restAPI) createMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 21100, "Invalid request: malformed form")
		return
	}
	to, from, body, cb := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body"), r.PostForm.Get("StatusCallback")
	service := r.PostForm.Get("MessagingServiceSid")

	s.mu.Lock()
	var fail *failure
	switch {
	case len(s.fails) > 0:
		fail = &s.fails[0]
		s.fails = s.fails[1:]
	case s.failRate > 0 && s.failRNG.Float64() < s.failRate:
		fail = &failure{http.StatusInternalServerError, 20500}
	}
	s.mu.Unlock()
	if fail != nil {
		writeError(w, fail.status, fail.code, errorText(fail.code, to))
		return
	}

	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "" && service == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case service != "" && !serviceSID.MatchString(service):
		writeError(w, http.StatusBadRequest, 21705, "The Messaging Service is invalid.")
		return
	case body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > 1600:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	}
	if cb != "" {
		if u, err := url.Parse(cb); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeError(w, http.StatusBadRequest, 21609, "The StatusCallback URL "+cb+" is not a valid URL.")
			return
		}
	}

	at := s.now().UTC()
	s.mu.Lock()
	if service != "" {
		pool, ok := s.services[service]
		if !ok {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, 21701, "The Messaging Service does not exist.")
			return
		}
		if from == "" && len(pool) > 0 {
			from = pool[sticky(to, len(pool))]
		}
	}
	m := Message{SID: s.newSID("SM"), To: to, From: from, MessagingServiceSID: service, Body: body, StatusCallback: cb, At: at}
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s.resource(m, "queued"))

	if cb != "" {
		s.mu.Lock()
		if statuses := s.statusesFor(to); statuses != nil && !s.closed {
			s.wg.Add(1)
			go s.sendStatuses(m, statuses)
		}
		s.mu.Unlock()
	}
}

// resource is m as Twilio's Message resource JSON, in status.
func (s restAPI) resource(m Message, status string) map[string]any {
	date := m.At.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	var sent, code, errMsg any // null until the message left Twilio or failed
	switch status {
	case "sent", "delivered", "undelivered", "failed", "read":
		sent = date
	}
	if status == "undelivered" || status == "failed" {
		code, errMsg = 30003, "Unreachable destination handset"
	}
	return map[string]any{
		"account_sid":           s.accountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          date,
		"date_sent":             sent,
		"date_updated":          date,
		"direction":             "outbound-api",
		"error_code":            code,
		"error_message":         errMsg,
		"from":                  orNull(m.From),
		"messaging_service_sid": orNull(m.MessagingServiceSID),
		"num_media":             "0",
		"num_segments":          fmt.Sprint(Segments(m.Body)),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

// SetStatus sets the status the message list reports for a sent message
// ("sent", "delivered", "failed", …); AutoStatus sets it too. Without it a
// message is "queued", without date_sent.
func (s *Server) SetStatus(sid, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses = map[string]string{}
	}
	s.statuses[sid] = status
}

// listMessages answers GET Messages.json as Twilio does: the account's
// messages newest first (by date_created), filtered by To and From, PageSize
// a page (50 by default, 1000 at most), paged by Page and PageToken
// ("PA" + the last sid of the page before) through next_page_uri.
func (s restAPI) listMessages(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	size := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
			return
		}
		size = min(n, 1000)
	}
	pageNo := 0
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid Page")
			return
		}
		pageNo = n
	}
	to, from, token := q.Get("To"), q.Get("From"), q.Get("PageToken")

	s.mu.Lock()
	var list []Message
	for i := len(s.msgs) - 1; i >= 0; i-- {
		m := s.msgs[i]
		if (to == "" || m.To == to) && (from == "" || m.From == from) {
			list = append(list, m)
		}
	}
	statuses := make(map[string]string, len(list))
	for _, m := range list {
		statuses[m.SID] = s.statuses[m.SID]
	}
	s.mu.Unlock()
	slices.SortStableFunc(list, func(a, b Message) int { return b.At.Compare(a.At) })

	start := pageNo * size
	if after, ok := strings.CutPrefix(token, "PA"); ok && token != "" {
		i := slices.IndexFunc(list, func(m Message) bool { return m.SID == after })
		if i < 0 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageToken")
			return
		}
		start = i + 1
	}
	start = min(start, len(list))
	end := min(start+size, len(list))
	page := make([]map[string]any, 0, end-start)
	for _, m := range list[start:end] {
		st := statuses[m.SID]
		if st == "" {
			st = "queued"
		}
		page = append(page, s.resource(m, st))
	}

	base := "/2010-04-01/Accounts/" + s.accountSID + "/Messages.json"
	pageURI := func(n int, tok string) string {
		v := url.Values{}
		if to != "" {
			v.Set("To", to)
		}
		if from != "" {
			v.Set("From", from)
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(n))
		if tok != "" {
			v.Set("PageToken", tok)
		}
		return base + "?" + v.Encode()
	}
	var next, prev any // null on the last and the first page
	if end < len(list) {
		next = pageURI(pageNo+1, "PA"+list[end-1].SID)
	}
	if pageNo > 0 && start > 0 {
		prev = pageURI(pageNo-1, "PB"+list[start].SID)
	}
	last := start
	if end > start {
		last = end - 1
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"end":               last,
		"first_page_uri":    pageURI(0, ""),
		"messages":          page,
		"next_page_uri":     next,
		"page":              pageNo,
		"page_size":         size,
		"previous_page_uri": prev,
		"start":             start,
		"uri":               pageURI(pageNo, token),
	})
}

// newSID returns prefix + 32 hex digits from the fake's fixed-seed generator.
// Call with s.mu held.
func (s *Server) newSID(prefix string) string {
	return fmt.Sprintf("%s%016x%016x", prefix, s.sidRNG.Uint64(), s.sidRNG.Uint64())
}

// Deliver POSTs form to webhookURL as Twilio would: form-encoded, with the
// X-Twilio-Signature computed over publicURL (the URL configured at Twilio,
// query included) and form.
func (s *Server) Deliver(ctx context.Context, webhookURL, publicURL string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("twiliotest: deliver: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Home-Region", "us1")
	req.Header.Set("I-Twilio-Idempotency-Token", newToken())
	req.Header.Set("X-Twilio-Signature", Sign(s.authToken, publicURL, form))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("twiliotest: deliver: %w", err)
	}
	return resp, nil
}

// DeliverSMS POSTs an inbound SMS webhook (see SMSForm) to webhookURL, signed
// over publicURL as a real Twilio would sign it. The form's AccountSid is set
// to the fake's account.
func (s *Server) DeliverSMS(ctx context.Context, webhookURL, publicURL string, form url.Values) (*http.Response, error) {
	f := make(url.Values, len(form))
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	if f.Has("AccountSid") {
		f.Set("AccountSid", s.accountSID)
	}
	return s.Deliver(ctx, webhookURL, publicURL, f)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	body := map[string]any{"message": msg, "status": status}
	if code != 0 {
		body["code"] = code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	json.NewEncoder(w).Encode(body)
}
