package configfile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var pathStep = regexp.MustCompile(`([^.\[\]\s]+)|\[(\d+)\]`)

// Line returns the line of data (a config file Parse refused with e) that e's field is on,
// or 0 when it cannot tell. The documents are counted as Parse counts them (each item of a
// top-level list, or a top-level mapping), and e.Field is followed from its document as far
// as it goes: a missing key gives the line of the mapping that lacks it.
func Line(data []byte, e *Error) int {
	var want int
	if _, err := fmt.Sscanf(e.Doc, "document %d", &want); err != nil || want < 1 {
		return 0
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	n := 0
	for {
		var root yaml.Node
		if err := dec.Decode(&root); err != nil {
			return 0 // the end, or YAML that Parse refused before counting documents
		}
		if len(root.Content) == 0 {
			continue
		}
		items := []*yaml.Node{root.Content[0]}
		if root.Content[0].Kind == yaml.SequenceNode {
			items = root.Content[0].Content
		}
		for _, item := range items {
			if n++; n == want {
				return follow(item, e.Field)
			}
		}
	}
}

// follow walks path ("rate_limits[0].limits[0].limit_to") from n and returns the line of the
// deepest node it reaches: a list item's own line, a key's line for its value.
func follow(n *yaml.Node, path string) int {
	line := n.Line
	for _, m := range pathStep.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		at := 0
		switch {
		case m[2] != "":
			i, _ := strconv.Atoi(m[2])
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
				at = next.Line
			}
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next, at = n.Content[i+1], n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, at
	}
	return line
}
