package pagetrim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Executable releases the resident pages of the executable's read-only, file-backed mappings.
// It reads /proc/self/smaps to find them.
func Executable() (Result, error) {
	maps, err := executableMappings()
	if err != nil {
		return Result{}, err
	}
	var r Result
	for _, m := range maps {
		if !m.releasable() {
			r.Kept++
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED); errno != 0 {
			return r, fmt.Errorf("pagetrim: madvise %#x-%#x: %w", m.start, m.end, errno)
		}
		r.Mappings++
		r.Resident += m.rss
	}
	return r, nil
}

// executableMappings returns the running executable's mappings, from /proc/self/smaps.
func executableMappings() ([]mapping, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("pagetrim: %w", err)
	}
	exe = strings.TrimSuffix(exe, deleted) // replaced on disk: its mappings still hold the old file
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("pagetrim: %w", err)
	}
	defer f.Close()
	maps, err := parseSmaps(f, exe)
	if err != nil {
		return nil, fmt.Errorf("pagetrim: /proc/self/smaps: %w", err)
	}
	return maps, nil
}

// deleted is what the kernel appends to the path of a file removed or replaced since it was
// mapped.
const deleted = " (deleted)"

// mapping is one of the executable's mappings in /proc/self/smaps.
type mapping struct {
	start, end      uint64
	perms           string
	rss, anon, swap int64 // bytes
	seen            int   // how many of Rss, Anonymous and Swap were listed
}

// releasable reports whether the mapping's pages can be dropped and read again from the file:
// it is not writable and holds no private copy of a page, in memory (Anonymous) or swapped out
// (Swap): a PIE binary's loader writes relocations into read-only data, and those copies are
// not in the file. A mapping whose smaps lack either count is kept.
func (m mapping) releasable() bool {
	return !strings.Contains(m.perms, "w") && m.seen == 3 && m.anon == 0 && m.swap == 0
}

// parseSmaps returns the mappings of the file exe in an smaps listing. A mapping's header
// line is "start-end perms offset dev inode path"; the lines after it, up to the next header,
// are "Field: value kB".
func parseSmaps(r io.Reader, exe string) ([]mapping, error) {
	var (
		out []mapping
		cur *mapping
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			cur = nil
			path := ""
			if len(f) >= 6 {
				path = strings.TrimSuffix(strings.Join(f[5:], " "), deleted)
			}
			if path != exe {
				continue
			}
			lo, hi, _ := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || end <= start {
				return nil, fmt.Errorf("bad mapping line %q", line)
			}
			out = append(out, mapping{start: start, end: end, perms: f[1]})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "Rss" && name != "Anonymous" && name != "Swap") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad line %q", line)
		}
		switch name {
		case "Rss":
			cur.rss = kb << 10
		case "Anonymous":
			cur.anon = kb << 10
		case "Swap":
			cur.swap = kb << 10
		}
		cur.seen++
	}
	return out, sc.Err()
}
