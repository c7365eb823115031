package app

import (
	"strings"
	"testing"
)

// TestServeTrimsPages: a serving gateway releases its binary's start-up pages (pagetrim does
// on Linux).
func TestServeTrimsPages(t *testing.T) {
	g := startGateway(t, nil)
	waitUntil(t, func() bool { return strings.Contains(g.Logs.String(), `"msg":"released the binary's resident pages"`) })
}
