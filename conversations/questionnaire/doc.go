// Package questionnaire holds CareCheck's questionnaires as data, parses the
// answers people type (or tap), and scores finished questionnaires exactly as
// docs/clinical.md ("Instruments") says. It is pure: no I/O besides the embedded built-in
// definitions, no clock, no package-level mutable state.
//
// The built-in questionnaires (builtin/*.json) are daily-mood, phq2 → phq9,
// gad2 → gad7, asq, medication and appointment-confirm. The C-SSRS screener
// is not shipped (its electronic use is licensed separately); an agency that
// holds the licence may define it with Instrument "cssrs" and is scored by
// the screener's rule for it (docs/clinical.md, "Licensing").
//
// Choices made where the instruments are silent (an agency's clinical lead
// should confirm them, like the rest of docs/clinical.md):
//
//   - Any item may be skipped (SKIP, saltar, omitir, "prefer not to say").
//     A skipped item counts as missing for PHQ/GAD scoring and as a refusal
//     for the ASQ (which the ASQ counts as positive).
//   - PHQ-9 and GAD-7 with 1–2 items missing: each missing item is filled with
//     the mean of the answered items and the total (sum × items / answered) is
//     rounded to the nearest integer, halves up. More than 2 missing: invalid,
//     no total, no band. GAD-7 uses the same rule as the PHQ-9.
//   - PHQ-9 item 9 skipped (refused, not merely unanswered): concern ("PHQ-9 item 9 not answered"); it is not
//     filled from the mean for the crisis rule. Any item 9 > 0 is a crisis even
//     when the PHQ-9 as a whole is invalid.
//   - PHQ-2/GAD-2 with one item missing and the answered one below 3: the
//     screen cannot be ruled negative, so it continues to the full instrument
//     (whose missing-item rule then applies). Both missing: invalid, no
//     continuation.
//   - ASQ positive with question 5 skipped or unanswered: treated as acute
//     (crisis, "ASQ positive, acuity not answered"): a missed crisis is worse
//     than a false alarm. Questions 1–4 left unanswered (not refused) with no
//     yes: not valid, no risk.
//   - Mood: ScoreOptions.MoodThreshold 0 means the default 2; a negative one
//     turns the threshold rule off. The drop rule needs at least one earlier
//     mood in MoodHistory; the median of an even count is the mean of the two
//     middle values; a drop of ≥ 4 from it is a concern.
//   - Medication: "no" is a concern ("medication not taken"); "some" is not.
//   - Appointment: never a risk; R adds the note "reschedule requested".
//   - C-SSRS (agency-defined): items 1–6 yes/no, optional item 7 "was it in
//     the past 3 months?" after item 6; item 6 yes with item 7 unanswered
//     counts as recent (crisis). A refused item is at least a concern.
//   - SMS renderings are folded to the GSM-7 alphabet (á→a, í→i, ó→o, ú→u,
//     curly quotes → straight) so that a Spanish question costs 160-character
//     segments, not 70-character UCS-2 ones.
package questionnaire
