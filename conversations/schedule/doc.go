// Package schedule decides when check-ins and appointment reminders are due.
//
// It is pure: no Redis, no goroutines, no clock. Every function takes the time
// it needs, so the scheduler, the API and the tests all get the same answers.
//
// # Recurrence and daylight saving time
//
// A schedule is an RFC 5545 RRULE whose wall clock repeats in the client's IANA
// zone: "daily at 10:00 America/Chicago" stays 10:00 local all year while its UTC
// instant moves. The rule is expanded by rrule-go in floating (zone-less) wall
// time and each wall clock is then placed in the zone here, because rrule-go's
// own zone handling goes through time.Date, which resolves the DST edges
// inconsistently (a Chicago 02:30 gap becomes 01:30 CST, a Madrid repeated 02:30
// becomes the second one). The rules are:
//
//   - a wall clock that does not exist (spring-forward gap) fires once, shifted
//     forward by the gap: 02:30 on 2026-03-08 in Chicago fires at 03:30 CDT;
//   - a wall clock that happens twice (fall-back) fires once, at the first
//     instance: 01:30 on 2026-11-01 in Chicago fires at 01:30 CDT, not CST;
//   - an occurrence keeps the wall clock it was scheduled for in its Local field
//     and id, whatever the shift.
//
// Check-ins are never less than MinSpacing (1 hour) apart: Parse rejects rules
// that would do it, and the rare DST shift that would bring two occurrences
// closer drops the later one.
//
// # Once only
//
// An occurrence's id is its local date and slot ("2026-03-08:1000"), and
// OccurrenceID prefixes the schedule id. It depends only on the rule and the wall
// clock, so every process that computes it agrees, and the dispatcher can refuse
// the second one.
package schedule
