// Command trimmed releases its own pages with pagetrim.Executable, then keeps working: built
// as a position-independent executable, whose relocated read-only data must be kept, it
// shows that a release leaves the program intact.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/llmgw/llmgw/pagetrim"
)

func main() {
	r, err := pagetrim.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// After the release: interface calls, type switches and maps go through the type data
	// and tables a PIE binary relocates at load.
	words := map[string]fmt.Stringer{}
	for _, w := range strings.Fields("b c a") {
		words[w] = name(w)
	}
	keys := make([]string, 0, len(words))
	for k := range words {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s []string
	for _, k := range keys {
		var v any = words[k]
		switch v := v.(type) {
		case fmt.Stringer:
			s = append(s, v.String())
		}
	}
	fmt.Printf("mappings=%d kept=%d resident=%d words=%s\n", r.Mappings, r.Kept, r.Resident, strings.Join(s, ","))
}

type name string

func (n name) String() string { return "<" + string(n) + ">" }
