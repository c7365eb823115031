package server

import (
	"net/http"
	"net/http/pprof" // its init also registers on http.DefaultServeMux, which llmgw never serves
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
