// Package fhir turns a client's scored questionnaires into FHIR R4: a
// Bundle (type collection) of QuestionnaireResponse resources for PHQ-2,
// PHQ-9, GAD-2 and GAD-7 with their LOINC codes, and an Observation for
// each valid total. The client is named by the agency's own identifier
// (the client's external_id), never by name. Pure functions of the
// timeline entries; the API reads them from the store.
package fhir

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/store"
)

// LOINC is the code system of every code below.
const LOINC = "http://loinc.org"

// codeSystemInstrument holds CareCheck's own codes, for a total LOINC has
// no code we could confirm for (GAD-2).
const codeSystemInstrument = "urn:carecheck:instrument"

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Reference is a FHIR Reference, by identifier or by a bundle entry's fullUrl.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
}

// Answer is a QuestionnaireResponse item's answer.
type Answer struct {
	ValueCoding  *Coding `json:"valueCoding,omitempty"`
	ValueInteger *int    `json:"valueInteger,omitempty"`
}

// Item is a QuestionnaireResponse item: the LOINC code of the question as
// its linkId.
type Item struct {
	LinkID     string   `json:"linkId"`
	Definition string   `json:"definition,omitempty"`
	Text       string   `json:"text,omitempty"`
	Answer     []Answer `json:"answer,omitempty"`
}

// Resource is a QuestionnaireResponse or an Observation (the fields of
// both; each uses its own).
type Resource struct {
	ResourceType      string            `json:"resourceType"`
	ID                string            `json:"id"`
	Identifier        *Identifier       `json:"identifier,omitempty"`
	Questionnaire     string            `json:"questionnaire,omitempty"`
	Status            string            `json:"status"`
	Category          []CodeableConcept `json:"category,omitempty"`
	Code              *CodeableConcept  `json:"code,omitempty"`
	Subject           Reference         `json:"subject"`
	Authored          string            `json:"authored,omitempty"`
	EffectiveDateTime string            `json:"effectiveDateTime,omitempty"`
	ValueInteger      *int              `json:"valueInteger,omitempty"`
	Interpretation    []CodeableConcept `json:"interpretation,omitempty"`
	DerivedFrom       []Reference       `json:"derivedFrom,omitempty"`
	Item              []Item            `json:"item,omitempty"`
}

// Entry is a Bundle entry.
type Entry struct {
	FullURL  string   `json:"fullUrl"`
	Resource Resource `json:"resource"`
}

// Bundle is a FHIR Bundle of type collection.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp"`
	Entry        []Entry `json:"entry"`
}

// Instrument is one questionnaire's LOINC codes: the panel (its
// Questionnaire is http://loinc.org/q/<panel>), each item by CareCheck's
// question id, and the total score.
type Instrument struct {
	Name          string
	Panel         string // "" when LOINC has none we could confirm
	Questionnaire string
	Items         []ItemCode
	Total         Coding
}

// ItemCode maps a question of CareCheck's questionnaire to its LOINC code.
type ItemCode struct {
	Question, LOINC, Display string
}

// Sources (docs/fhir.md): loinc.org's panels 55757-9 (PHQ-2), 44249-1
// (PHQ-9), 69737-5 (GAD-7) and 69729-2 (PHQ-SADS, which lists the PHQ-9 and
// GAD-7 item codes), the answer list LL358-3.
var (
	phqItems = []ItemCode{
		{"item1", "44250-9", "Little interest or pleasure in doing things"},
		{"item2", "44255-8", "Feeling down, depressed, or hopeless"},
		{"item3", "44259-0", "Trouble falling or staying asleep, or sleeping too much"},
		{"item4", "44254-1", "Feeling tired or having little energy"},
		{"item5", "44251-7", "Poor appetite or overeating"},
		{"item6", "44258-2", "Feeling bad about yourself-or that you are a failure or have let yourself or your family down"},
		{"item7", "44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television"},
		{"item8", "44253-3", "Moving or speaking so slowly that other people could have noticed. Or the opposite-being so fidgety or restless that you have been moving around a lot more than usual"},
		{"item9", "44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"},
	}
	gadItems = []ItemCode{
		{"item1", "69725-0", "Feeling nervous, anxious or on edge"},
		{"item2", "68509-9", "Not being able to stop or control worrying"},
		{"item3", "69733-4", "Worrying too much about different things"},
		{"item4", "69734-2", "Trouble relaxing"},
		{"item5", "69735-9", "Being so restless that it is hard to sit still"},
		{"item6", "69689-8", "Becoming easily annoyed or irritable"},
		{"item7", "69736-7", "Feeling afraid as if something awful might happen"},
	}
	// Instruments are the questionnaires exported, by CareCheck's instrument name.
	Instruments = map[string]Instrument{
		"phq2": {Name: "PHQ-2", Panel: "55757-9", Questionnaire: "http://loinc.org/q/55757-9", Items: phqItems[:2],
			Total: Coding{LOINC, "55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]"}},
		"phq9": {Name: "PHQ-9", Panel: "44249-1", Questionnaire: "http://loinc.org/q/44249-1", Items: phqItems,
			Total: Coding{LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"}},
		"gad2": {Name: "GAD-2", Questionnaire: "urn:carecheck:questionnaire:gad2", Items: gadItems[:2],
			Total: Coding{codeSystemInstrument, "gad2-total", "Generalized anxiety disorder 2 item (GAD-2) total score"}},
		"gad7": {Name: "GAD-7", Panel: "69737-5", Questionnaire: "http://loinc.org/q/69737-5", Items: gadItems,
			Total: Coding{LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"}},
	}
	// answerCodes are LOINC's answer list LL358-3, by CareCheck's answer code.
	answerCodes = map[string]Coding{
		"not-at-all":       {LOINC, "LA6568-5", "Not at all"},
		"several-days":     {LOINC, "LA6569-3", "Several days"},
		"more-than-half":   {LOINC, "LA6570-1", "More than half the days"},
		"nearly-every-day": {LOINC, "LA6571-9", "Nearly every day"},
	}
)

// IdentifierSystem is the URI naming an agency's client identifiers (the
// system of the subject's identifier; its value is the external_id).
func IdentifierSystem(agencyID string) string { return "urn:carecheck:agency:" + agencyID + ":client" }

// Build makes the bundle of a client's questionnaires scored at or after
// since, from the client's timeline entries in time order (they may start
// earlier: a check-in answered over several days keeps its earlier answers).
// Times are written in loc.
func Build(agencyID, externalID string, entries []store.Entry, since, now time.Time, loc *time.Location) Bundle {
	subject := Reference{Identifier: &Identifier{System: IdentifierSystem(agencyID), Value: externalID}}
	b := Bundle{ResourceType: "Bundle", Type: "collection", Timestamp: now.In(loc).Format(time.RFC3339), Entry: []Entry{}}
	answers := map[string]map[string]string{} // conversation → question → answer code
	for _, e := range entries {
		conv := e.Fields["conv"]
		switch e.Type {
		case "answer":
			if answers[conv] == nil {
				answers[conv] = map[string]string{}
			}
			answers[conv][e.Fields["question"]] = e.Fields["code"]
		case "score":
			ins, ok := Instruments[e.Fields["instrument"]]
			if !ok || e.At.Before(since) {
				continue
			}
			b.Entry = append(b.Entry, scored(agencyID, ins, e, answers[conv], subject, loc)...)
		}
	}
	return b
}

// scored is the QuestionnaireResponse of one score entry and, for a valid
// total, its Observation.
func scored(agencyID string, ins Instrument, e store.Entry, answers map[string]string, subject Reference, loc *time.Location) []Entry {
	at := e.At.In(loc).Format(time.RFC3339)
	qr := Resource{ResourceType: "QuestionnaireResponse", ID: "qr-" + e.ID, Questionnaire: ins.Questionnaire, Status: "completed",
		Subject: subject, Authored: at,
		Identifier: &Identifier{System: "urn:carecheck:agency:" + agencyID + ":checkin", Value: e.Fields["conv"]}}
	for _, it := range ins.Items {
		code, ok := answerCodes[answers[it.Question]]
		if !ok {
			continue // skipped, or not an answer of the list: no answer to report
		}
		qr.Item = append(qr.Item, Item{LinkID: it.LOINC, Definition: LOINC + "/" + it.LOINC, Text: it.Display, Answer: []Answer{{ValueCoding: &code}}})
	}
	total, err := strconv.Atoi(e.Fields["total"])
	valid := err == nil && e.Fields["valid"] == "true"
	if valid {
		qr.Item = append(qr.Item, Item{LinkID: ins.Total.Code, Text: ins.Total.Display, Answer: []Answer{{ValueInteger: &total}}})
	}
	qrURL := entryURL(agencyID, "QuestionnaireResponse", e.ID)
	out := []Entry{{FullURL: qrURL, Resource: qr}}
	if !valid {
		return out
	}
	code := CodeableConcept{Coding: []Coding{ins.Total}, Text: ins.Name + " total score"}
	obs := Resource{ResourceType: "Observation", ID: "obs-" + e.ID, Status: "final",
		Category: []CodeableConcept{{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "survey", Display: "Survey"}}}},
		Code:     &code, Subject: subject, EffectiveDateTime: at, ValueInteger: &total,
		DerivedFrom: []Reference{{Reference: qrURL}}}
	if band := e.Fields["band"]; band != "" {
		obs.Interpretation = []CodeableConcept{{Text: band}}
	}
	return append(out, Entry{FullURL: entryURL(agencyID, "Observation", e.ID), Resource: obs})
}

// entryURL is a bundle entry's fullUrl: a name-based UUID (RFC 9562 version
// 5) of the agency, the resource type and the timeline entry, the same on
// every export, so a receiver can tell a resource it already has.
func entryURL(agencyID, typ, entryID string) string {
	h := sha1.Sum([]byte("carecheck/" + agencyID + "/" + typ + "/" + entryID))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
