package server

import (
	"net/http"
	"net/http/pprof" // its init also registers on http.DefaultServeMux, which llmgw never serves
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/edge"
)

// pprofPrefix is where Options.Pprof serves Go's runtime profiles.
const pprofPrefix = "/debug/pprof/"

// routePprof serves the runtime profiles (CPU, heap, goroutines, ...) under /debug/pprof/ to
// the admin token or an admin user's key only: a profile shows the process's internals and a
// CPU profile or trace costs the process while it runs.
func (s *Server) routePprof(mux *http.ServeMux) {
	profiles := http.NewServeMux()
	profiles.HandleFunc(pprofPrefix, pprof.Index) // heap, goroutine, allocs, block, mutex, ...
	profiles.HandleFunc(pprofPrefix+"cmdline", pprof.Cmdline)
	profiles.HandleFunc(pprofPrefix+"profile", pprof.Profile)
	profiles.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
	profiles.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	mux.Handle(pprofPrefix, s.adminOnly(profiles))
}

// adminOnly admits only requests with the admin token or an admin user's key (401 without a
// valid key, 403 with another one), as the Admin API does.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := s.snaps.Load()
		if snap == nil {
			apierr.WriteOpenAI(w, apierr.New(apierr.KindUnavailable, "the gateway is starting"))
			return
		}
		p, err := snap.Authenticate(edge.Secret(r.Header), time.Now())
		if err != nil {
			apierr.WriteOpenAI(w, err)
			return
		}
		if !p.Admin {
			apierr.WriteOpenAI(w, apierr.New(apierr.KindPermissionDenied, "the profiles need the admin token or an admin user's key"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
