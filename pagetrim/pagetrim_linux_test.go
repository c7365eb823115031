package pagetrim

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// resident returns the resident bytes of the executable's releasable and kept mappings.
func resident(t *testing.T) (releasable, kept int64) {
	t.Helper()
	maps, err := executableMappings()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.releasable() {
			releasable += m.rss
		} else {
			kept += m.rss
		}
	}
	return releasable, kept
}

// written is in the executable's writable data (it has a non-zero initial value), which a
// release must keep: the file holds its first value, not the one the program wrote.
var written = [8192]byte{1: 1}

func TestExecutable(t *testing.T) {
	written[4096] = 42
	before, _ := resident(t)
	r, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := resident(t)
	t.Logf("released %d mappings (%d KB resident); resident before %d KB, after %d KB; kept %d", r.Mappings, r.Resident>>10, before>>10, after>>10, r.Kept)
	if r.Mappings == 0 || r.Resident == 0 {
		t.Fatalf("released nothing: %+v", r)
	}
	if r.Kept == 0 {
		t.Errorf("kept no mapping, yet the executable has writable data: %+v", r)
	}
	// Reading smaps again brings back the pages that touches (with the 64 KiB the kernel maps
	// around each): in this small binary, about half. Without the release, none would go.
	if after > before*3/4 {
		t.Errorf("resident read-only pages: %d KB before, %d KB after; want at most three quarters", before>>10, after>>10)
	}
	if written[4096] != 42 || written[1] != 1 {
		t.Errorf("writable data changed by the release: %d %d", written[4096], written[1])
	}
}

// TestPositionIndependent releases the pages of a PIE binary, whose loader relocates
// read-only data in place, and runs on: releasing that data would crash it (the file holds
// it unrelocated).
func TestPositionIndependent(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "trimmed")
	build := exec.Command("go", "build", "-buildmode=pie", "-o", bin, "./testdata/trimmed")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("the trimmed program failed: %v\n%.2000s", err, out)
	}
	m := regexp.MustCompile(`^mappings=(\d+) kept=(\d+) resident=\d+ words=(.*)\n$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("output %q", out)
	}
	mappings, _ := strconv.Atoi(m[1])
	kept, _ := strconv.Atoi(m[2])
	if mappings == 0 || kept < 2 { // writable data, and the relocated read-only data
		t.Errorf("mappings=%d kept=%d: want some released, the data and the relocated data kept", mappings, kept)
	}
	if m[3] != "<a>,<b>,<c>" {
		t.Errorf("words = %q", m[3])
	}
}

func TestParseSmaps(t *testing.T) {
	const smaps = `00400000-00c00000 r-xp 00000000 fd:01 123 /usr/bin/gw
Size:               8192 kB
Rss:                6144 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me
00c00000-01000000 r--p 00800000 fd:01 123 /usr/bin/gw
Rss:                 512 kB
Anonymous:            64 kB
Swap:                  0 kB
01000000-01100000 rw-p 00c00000 fd:01 123 /usr/bin/gw
Rss:                 256 kB
Anonymous:           128 kB
Swap:                  0 kB
01100000-01200000 r--p 00d00000 fd:01 123 /usr/bin/gw
Rss:                   0 kB
Anonymous:             0 kB
Swap:                 32 kB
01200000-01300000 r--p 00e00000 fd:01 123 /usr/bin/gw
Rss:                  16 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 9 /usr/lib/libc.so.6
Rss:                 900 kB
Anonymous:             0 kB
Swap:                  0 kB
7f0000200000-7f0000300000 r--p 00000000 fd:01 124 /usr/bin/gw (deleted)
Rss:                  40 kB
Anonymous:             0 kB
Swap:                  0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  12 kB
Anonymous:            12 kB
Swap:                  0 kB
`
	maps, err := parseSmaps(strings.NewReader(smaps), "/usr/bin/gw")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range maps {
		got = append(got, fmt.Sprintf("%x %s rss=%d anon=%d swap=%d releasable=%v", m.start, m.perms, m.rss>>10, m.anon>>10, m.swap>>10, m.releasable()))
	}
	want := []string{
		"400000 r-xp rss=6144 anon=0 swap=0 releasable=true",
		"c00000 r--p rss=512 anon=64 swap=0 releasable=false", // relocated in place (RELRO)
		"1000000 rw-p rss=256 anon=128 swap=0 releasable=false",
		"1100000 r--p rss=0 anon=0 swap=32 releasable=false",     // relocated in place, and swapped out
		"1200000 r--p rss=16 anon=0 swap=0 releasable=false",     // no Anonymous or Swap count: kept
		"7f0000200000 r--p rss=40 anon=0 swap=0 releasable=true", // the file was replaced; the mapping is still the program's
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
