package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/carecheck/carecheck/store"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// Error is an API error with a code that maps to an HTTP status.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Code classifies an error for the status table.
type Code int

// The error codes the API answers with.
const (
	CodeInvalid Code = iota + 1
	CodeUnauthorized
	CodeNotFound
	CodeConflict
	CodeTooLarge
	CodeUnavailable
	CodeTooMany
)

var statusOf = map[Code]int{
	CodeInvalid:      http.StatusBadRequest,
	CodeUnauthorized: http.StatusUnauthorized,
	CodeNotFound:     http.StatusNotFound,
	CodeConflict:     http.StatusConflict,
	CodeTooLarge:     http.StatusRequestEntityTooLarge,
	CodeUnavailable:  http.StatusServiceUnavailable,
	CodeTooMany:      http.StatusTooManyRequests,
}

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

var errNotFound = &Error{Code: CodeNotFound, Message: "not found"}

// encode writes v as JSON with the status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object into v: unknown fields, trailing data and
// bodies over maxBody are refused.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("request body over %d bytes", maxBody)}
		case errors.Is(err, io.EOF):
			return invalid("request body is empty: a JSON object is required")
		case errors.As(err, &syn):
			return invalid("malformed JSON at byte %d", syn.Offset)
		case errors.As(err, &typ) && typ.Field == "":
			return invalid("malformed JSON: expected an object")
		case errors.As(err, &typ):
			return invalid("field %q: expected %s", typ.Field, typ.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return invalid("%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return invalid("malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return invalid("malformed JSON: data after the object")
	}
	return nil
}

// respondErr maps err to a status and a JSON body; internal errors reach the
// user only as "internal error".
func respondErr(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		encode(w, statusOf[e.Code], map[string]string{"error": e.Message})
	case errors.Is(err, store.ErrNotFound):
		encode(w, http.StatusNotFound, map[string]string{"error": "not found"})
	case errors.Is(err, store.ErrConflict):
		encode(w, http.StatusConflict, map[string]string{"error": "conflict: already in use by another active person"})
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		encode(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
	}
}
