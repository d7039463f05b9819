package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	fhirSchemaOnce sync.Once
	fhirSchema     *jsonschema.Schema
	fhirSchemaErr  error
)

// r4Schema compiles HL7's FHIR R4 JSON schema (fhir/testdata/SOURCE.md).
func r4Schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	fhirSchemaOnce.Do(func() {
		f, err := os.Open("../fhir/testdata/fhir.schema.json.gz")
		if err != nil {
			fhirSchemaErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			fhirSchemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(zr)
		if err != nil {
			fhirSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if fhirSchemaErr = c.AddResource("fhir.schema.json", doc); fhirSchemaErr != nil {
			return
		}
		fhirSchema, fhirSchemaErr = c.Compile("fhir.schema.json")
	})
	if fhirSchemaErr != nil {
		t.Fatalf("FHIR R4 schema: %v", fhirSchemaErr)
	}
	return fhirSchema
}

// validR4 reports whether a JSON document is valid FHIR R4 by the schema.
func validR4(t *testing.T, raw []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return r4Schema(t).Validate(inst)
}

func (h *harness) raw(method, path, key string) (int, []byte, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// A client's PHQ-2 that continued into a PHQ-9, a GAD-2 and a GAD-7, as a
// FHIR R4 bundle: valid by HL7's schema, the LOINC codes of each panel,
// item and total, the answers as given, the totals as scored, the client
// named by the agency's identifier only.
func TestFHIRBundleOfAClientsQuestionnaires(t *testing.T) {
	h := newServiceHarness(t, day(0))
	agency, key := h.agency("North")
	_, keyB := h.agency("South")
	ana := h.caseManager(key, "Ana Alvarez", "+13125550101")
	c := h.client(key, ana, "Cara One", "+13125550201")

	if code, _, _ := h.raw("GET", "/v1/clients/"+c+"/fhir", key); code != 409 {
		t.Errorf("FHIR of a client without external_id = %d; want 409", code)
	}
	for _, bad := range []string{"MRN 1", "MRN\u202e1", strings.Repeat("1", 65)} {
		if code, out := h.do("PATCH", "/v1/clients/"+c, key, map[string]any{"external_id": bad}); code != 400 {
			t.Errorf("external_id %q = %d %v; want 400", bad, code, out)
		}
	}
	if code, out := h.do("PATCH", "/v1/clients/"+c, key, map[string]any{"external_id": "MRN-00417"}); code != 200 || out["external_id"] != "MRN-00417" {
		t.Fatalf("PATCH external_id = %d %v", code, out)
	}
	other := h.client(key, ana, "Cy Two", "+13125550202")
	if code, out := h.do("PATCH", "/v1/clients/"+other, key, map[string]any{"external_id": "MRN-00417"}); code != 409 {
		t.Errorf("a second client with the same external_id = %d %v; want 409", code, out)
	}
	// Another agency may use the same identifier for its own client.
	ozB := h.caseManager(keyB, "Oz Other", "+13125550301")
	if code, out := h.do("POST", "/v1/clients", keyB, map[string]any{"name": "Cass B", "phone": "+13125550204", "channel": "sms",
		"timezone": "America/Chicago", "case_manager_id": ozB, "external_id": "MRN-00417"}); code != 201 {
		t.Errorf("another agency's client with the same external_id = %d %v; want 201", code, out)
	}

	h.clock.Set(day(1))
	h.checkin(c, "phq2")
	h.texts("+13125550201", "2", "1", "1", "0", "3", "0", "1", "0", "0") // PHQ-2 = 3, continues: PHQ-9 = 8
	h.clock.Set(day(2))
	h.checkin(c, "gad2")
	h.texts("+13125550201", "0", "1") // GAD-2 = 1
	h.clock.Set(day(3))
	h.checkin(c, "gad7")
	h.texts("+13125550201", "1", "2", "3", "0", "1", "2", "3") // GAD-7 = 12
	h.clock.Set(day(3).Add(time.Hour))

	code, raw, hdr := h.raw("GET", "/v1/clients/"+c+"/fhir", key)
	if code != 200 {
		t.Fatalf("FHIR = %d %s\n%s", code, raw, h.logs.String())
	}
	if g := hdr.Get("Content-Type"); g != "application/fhir+json" {
		t.Errorf("Content-Type = %q", g)
	}
	if err := validR4(t, raw); err != nil {
		t.Fatalf("bundle is not valid FHIR R4: %v\n%s", err, raw)
	}
	if bytes.Contains(raw, []byte("Cara")) || bytes.Contains(raw, []byte("+1312")) || bytes.Contains(raw, []byte(c)) {
		t.Errorf("bundle names the client other than by external_id:\n%s", raw)
	}
	var b struct {
		ResourceType, Type string
		Entry              []struct {
			FullURL  string `json:"fullUrl"`
			Resource struct {
				ResourceType, Status, Questionnaire, EffectiveDateTime, Authored string
				Subject                                                          struct {
					Identifier struct{ System, Value string }
				}
				Code struct {
					Coding []struct{ System, Code string }
				}
				Category     []struct{ Coding []struct{ Code string } }
				ValueInteger *int
				DerivedFrom  []struct{ Reference string }
				Item         []struct {
					LinkID string `json:"linkId"`
					Answer []struct {
						ValueCoding  struct{ Code string }
						ValueInteger *int
					}
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if b.ResourceType != "Bundle" || b.Type != "collection" {
		t.Errorf("bundle = %s %s; want Bundle collection", b.ResourceType, b.Type)
	}
	var got []string
	for _, e := range b.Entry {
		r := e.Resource
		if s := r.Subject.Identifier; s.System != "urn:carecheck:agency:"+agency+":client" || s.Value != "MRN-00417" {
			t.Errorf("%s subject = %+v; want the agency's identifier MRN-00417", r.ResourceType, s)
		}
		switch r.ResourceType {
		case "QuestionnaireResponse":
			var items []string
			for _, it := range r.Item {
				a := it.Answer[0]
				if a.ValueInteger != nil {
					items = append(items, fmt.Sprintf("%s=%d", it.LinkID, *a.ValueInteger))
				} else {
					items = append(items, it.LinkID+"="+a.ValueCoding.Code)
				}
			}
			got = append(got, fmt.Sprintf("QR %s %s %s [%s]", r.Questionnaire, r.Status, r.Authored, strings.Join(items, " ")))
		case "Observation":
			cat := r.Category[0].Coding[0].Code
			got = append(got, fmt.Sprintf("Obs %s %s %s|%s %d %s from=%v", r.Status, cat, r.Code.Coding[0].System, r.Code.Coding[0].Code, *r.ValueInteger, r.EffectiveDateTime, r.DerivedFrom[0].Reference == b.Entry[len(got)-1].FullURL))
		}
	}
	want := []string{
		"QR http://loinc.org/q/55757-9 completed 2026-07-01T10:02:00-05:00 [44250-9=LA6570-1 44255-8=LA6569-3 55758-7=3]",
		"Obs final survey http://loinc.org|55758-7 3 2026-07-01T10:02:00-05:00 from=true",
		"QR http://loinc.org/q/44249-1 completed 2026-07-01T10:09:00-05:00 [44250-9=LA6570-1 44255-8=LA6569-3 44259-0=LA6569-3 44254-1=LA6568-5 44251-7=LA6571-9 44258-2=LA6568-5 44252-5=LA6569-3 44253-3=LA6568-5 44260-8=LA6568-5 44261-6=8]",
		"Obs final survey http://loinc.org|44261-6 8 2026-07-01T10:09:00-05:00 from=true",
		"QR urn:carecheck:questionnaire:gad2 completed 2026-07-02T10:02:00-05:00 [69725-0=LA6568-5 68509-9=LA6569-3 gad2-total=1]",
		"Obs final survey urn:carecheck:instrument|gad2-total 1 2026-07-02T10:02:00-05:00 from=true",
		"QR http://loinc.org/q/69737-5 completed 2026-07-03T10:07:00-05:00 [69725-0=LA6569-3 68509-9=LA6570-1 69733-4=LA6571-9 69734-2=LA6568-5 69735-9=LA6569-3 69689-8=LA6570-1 69736-7=LA6571-9 70274-6=12]",
		"Obs final survey http://loinc.org|70274-6 12 2026-07-03T10:07:00-05:00 from=true",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("bundle =\n%s\nwant\n%s", g, w)
	}

	// ?since= keeps what was scored from then on.
	_, raw, _ = h.raw("GET", "/v1/clients/"+c+"/fhir?since=2026-07-03T00:00:00-05:00", key)
	if err := json.Unmarshal(raw, &b); err != nil || len(b.Entry) != 2 || b.Entry[0].Resource.Questionnaire != "http://loinc.org/q/69737-5" {
		t.Errorf("since 3 July = %s; want the GAD-7 alone", raw)
	}
	if err := validR4(t, raw); err != nil {
		t.Errorf("since 3 July: not valid R4: %v", err)
	}
	if code, _, _ := h.raw("GET", "/v1/clients/"+c+"/fhir?since=yesterday", key); code != 400 {
		t.Errorf("since=yesterday = %d; want 400", code)
	}
	if code, _, _ := h.raw("GET", "/v1/clients/"+c+"/fhir", keyB); code != 404 {
		t.Errorf("another agency's FHIR of the client = %d; want 404", code)
	}
	// The validator is not a rubber stamp: a wrong status is refused.
	bad := bytes.Replace(raw, []byte(`"status":"final"`), []byte(`"status":"done"`), 1)
	if err := validR4(t, bad); err == nil {
		t.Error("an Observation with status \"done\" passed the schema")
	}
}
