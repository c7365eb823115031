// Package web serves llmgw's admin web app: the files Vite builds from this directory into
// dist/, embedded in the binary, under a path prefix (the gateway mounts it at /ui/). It sets
// the caching headers and the Content-Security-Policy; it knows nothing of the APIs the app
// calls (the app talks to the gateway's Connect and OpenAI surfaces like any other client).
//
// dist/ is committed: `make web` rebuilds it (npm install + vite build) and `make check-web`
// fails when the committed build differs from the sources, so `make run` needs no Node.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var dist embed.FS

// ContentSecurityPolicy is the policy every answer carries when no other origin is allowed
// (see WithConnectOrigins): only the app's own scripts, styles and connections; no inline
// script, no eval, no framing, no plugins.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Policy is ContentSecurityPolicy with connect-src also allowing origins (each
// "scheme://host[:port]"; anything else is left out, so no wildcard or keyword can get in).
func Policy(origins []string) string {
	src := "connect-src 'self'"
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
			!strings.ContainsAny(u.Host, "*; '\"") && u.Scheme+"://"+u.Host == o && !strings.Contains(src, " "+o) {
			src += " " + o
		}
	}
	return strings.Replace(ContentSecurityPolicy, "connect-src 'self'", src, 1)
}

// immutable is the Cache-Control of the hashed assets under assets/: their name changes with
// their content, so a browser may keep them for a year without asking again.
const immutable = "public, max-age=31536000, immutable"

type file struct {
	body []byte
	etag string
	// gz is body gzipped, for a client that accepts it; nil when that is not smaller. It is
	// made on the first request that can use it (gzipping the whole app at startup would slow
	// every start, tests' included, for pages nobody may open).
	gzOnce sync.Once
	gz     []byte
}

// gzipped returns the file gzipped, or nil when gzip does not make it smaller.
func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(f.body) // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		if buf.Len() < len(f.body) {
			f.gz = buf.Bytes()
		}
	})
	return f.gz
}

// compressible are the extensions worth gzipping once at startup.
var compressible = map[string]bool{".js": true, ".css": true, ".html": true, ".svg": true, ".json": true}

// Handler serves the app. Build it with New.
type Handler struct {
	prefix  string
	files   map[string]*file
	connect func() []string
}

// Option configures a Handler.
type Option func(*Handler)

// WithConnectOrigins makes the CSP's connect-src also allow the origins origins returns, asked
// on every request: the identity providers' endpoints the app's single sign-on calls (their
// token endpoint). It must be safe for concurrent use.
func WithConnectOrigins(origins func() []string) Option {
	return func(h *Handler) { h.connect = origins }
}

// New returns a handler of the embedded app for requests under prefix (with its trailing
// slash, e.g. "/ui/"). It fails when the embedded build has no index.html.
func New(prefix string, opts ...Option) (*Handler, error) {
	return newHandler(prefix, dist, "dist", opts...)
}

func newHandler(prefix string, fsys fs.FS, root string, opts ...Option) (*Handler, error) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("web: prefix %q must start and end with /", prefix)
	}
	h := &Handler{prefix: prefix, files: map[string]*file{}}
	for _, o := range opts {
		o(h)
	}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files[strings.TrimPrefix(p, root+"/")] = &file{body: b, etag: hex.EncodeToString(sum[:12])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read the embedded app: %w", err)
	}
	if _, ok := h.files["index.html"]; !ok {
		return nil, fmt.Errorf("web: the embedded app has no index.html: run make web")
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD. A hashed asset (assets/...) is cacheable for a year; every
// other path gets index.html (the app routes in the browser) or the file of that name, never
// cached without revalidation. A missing asset is a 404, not index.html, so a stale page fails
// loudly instead of running HTML as a script.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	csp := ContentSecurityPolicy
	if h.connect != nil {
		csp = Policy(h.connect())
	}
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	f, found := h.files[name]
	switch {
	case found && strings.HasPrefix(name, "assets/"):
		hdr.Set("Cache-Control", immutable)
	case found && name != "":
		hdr.Set("Cache-Control", "no-cache")
	case strings.HasPrefix(name, "assets/"):
		http.NotFound(w, r)
		return
	default:
		name, f = "index.html", h.files["index.html"]
		hdr.Set("Cache-Control", "no-cache")
	}
	body, etag := f.body, f.etag
	if compressible[path.Ext(name)] {
		hdr.Add("Vary", "Accept-Encoding")
		if gz := f.gzipped(); gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = gz, etag+"-gz"
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", `"`+etag+`"`)
	if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
		hdr.Set("Content-Type", ctype) // not sniffed from the gzipped bytes
	}
	// ServeContent answers If-None-Match with a 304, HEAD without a body, and ranges.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (and does not refuse it
// with q=0).
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(coding) != "gzip" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
