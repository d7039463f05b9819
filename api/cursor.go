package api

import (
	"net/http"

	"github.com/carecheck/carecheck/store"
)

// cursorKind is what one list hands out as "next" and takes back as ?cursor=.
type cursorKind struct {
	// idPrefix: the cursor is the id (made by store.NewID) of the last item shown.
	idPrefix string
	// entry: the cursor is the id of the last timeline entry shown.
	entry bool
}

// The cursors of the API's lists. A list with the zero kind is one page: it
// never hands out a cursor, so it takes none.
var (
	clientCursor      = cursorKind{idPrefix: "cl"}
	caseManagerCursor = cursorKind{idPrefix: "cm"}
	escalationCursor  = cursorKind{idPrefix: "es"}
	rotationCursor    = cursorKind{idPrefix: "ro"}
	timelineCursor    = cursorKind{entry: true}
	onePage           = cursorKind{}
)

var errBadCursor = invalid("cursor: malformed")

// pageCursor is the one decoder of every list's ?cursor=: "" for the first
// page; otherwise it must be what that list handed out as "next", or the
// answer is 400 "cursor: malformed" (never a store error, never the first
// page again).
func pageCursor(r *http.Request, kind cursorKind) (string, error) {
	c := r.URL.Query().Get("cursor")
	switch {
	case c == "":
		return "", nil
	case kind.idPrefix != "" && store.IsID(kind.idPrefix, c):
		return c, nil
	case kind.entry && store.IsEntryID(c):
		return c, nil
	}
	return "", errBadCursor
}
