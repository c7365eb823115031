package pipeline

import (
	"strconv"
	"testing"
)

func TestSeenSet(t *testing.T) {
	s := seenSet{max: 3}
	for i := range 3 {
		if !s.add(strconv.Itoa(i)) {
			t.Fatalf("%d is new", i)
		}
	}
	if s.add("0") || s.add("2") {
		t.Error("a remembered id was new again")
	}
	if !s.add("3") { // evicts the oldest, "0"
		t.Error("3 is new")
	}
	if !s.add("0") {
		t.Error("the oldest id was not forgotten")
	}
	if s.add("3") || len(s.ids) != 3 {
		t.Errorf("set holds %d ids", len(s.ids))
	}
}
