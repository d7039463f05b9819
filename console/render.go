package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// parsePages parses every page template with the layout: pages["inbox.html"]
// renders the layout around inbox.html's "content" block. A page file also
// may define fragments that handlers render alone (renderFragment).
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	// items pairs a list of escalations with the page's view (its strings).
	"items": func(v view, list []item) itemsView { return itemsView{V: v, Items: list} },
	// duration and percent write the reports' figures.
	"duration": duration,
	"percent":  percent,
	"label":    labelOr,
	// list makes a list of strings (a select's fixed options).
	"list": func(s ...string) []string { return s },
	// inc counts from 1 for people.
	"inc": func(i int) int { return i + 1 },
}

// itemsView is one list of escalations with the page's view.
type itemsView struct {
	V     view
	Items []item
}

// view is what every page gets: the strings in the reader's language, who
// is signed in (nil on the sign-in pages), the page's title and its data.
type view struct {
	Lang  string
	T     map[string]string
	Me    *viewer
	Title string
	// Flash is a one-line message at the top of the page (an error or a
	// confirmation); FlashError marks it an error (role=alert).
	Flash      string
	FlashError bool
	Data       any
}

// render writes a page in the layout with status. title is a key of the
// string table.
func (c *console) render(w http.ResponseWriter, r *http.Request, page string, status int, title string, v view) {
	v.Lang = langOf(r)
	v.T = texts[v.Lang]
	v.Me = viewerOf(r)
	v.Title = v.T[title]
	c.write(w, r, page, "layout", status, v)
}

// renderFragment writes one named template of a page alone (the live
// inbox's lists).
func (c *console) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	v := view{Lang: langOf(r), Me: viewerOf(r), Data: data}
	v.T = texts[v.Lang]
	c.write(w, r, page, name, http.StatusOK, v)
}

func (c *console) write(w http.ResponseWriter, r *http.Request, page, name string, status int, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.Log.Error("console: no such page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		c.Log.Error("console: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// assets serves the embedded CSS and JS under /console/assets/.
func assets() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/console/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}
