package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects a logger's output.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func open(t *testing.T, dir string, max int64) (*Spool, *logBuffer) {
	t.Helper()
	var logs logBuffer
	s, err := Open(dir, max, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &logs
}

func records(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, []byte(fmt.Sprintf("record-%04d", i)))
	}
	return out
}

// drain reads and commits everything, batch records at a time, and returns it.
func drain(t *testing.T, s *Spool, batch int) []string {
	t.Helper()
	var out []string
	for {
		recs, c, err := s.Read(batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			out = append(out, string(r))
		}
		if err := s.Commit(c); err != nil {
			t.Fatal(err)
		}
	}
}

func want(from, to int) string {
	var out []string
	for _, r := range records(from, to) {
		out = append(out, string(r))
	}
	return strings.Join(out, ",")
}

func segments(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestAppendReadCommitInOrder: records come back in order across many segments; consumed
// segments are deleted; Size and Len follow.
func TestAppendReadCommitInOrder(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, 1<<20) // segments of 128 KiB
	for i := 0; i < 20000; i += 1000 {
		if n, err := s.Append(records(i, i+1000)); n != 1000 || err != nil {
			t.Fatalf("append: %d, %v", n, err)
		}
	}
	if s.Len() != 20000 || s.Size() != 10000*(frameHeader+11)+10000*(frameHeader+12) {
		t.Fatalf("len %d size %d, want 20000 records framed in 8 bytes", s.Len(), s.Size())
	}
	if n := segments(t, dir); n < 3 {
		t.Fatalf("%d segments, want the records spread over several", n)
	}
	// Reading without committing returns the same records again.
	r1, _, _ := s.Read(3, 1<<20)
	r2, _, _ := s.Read(3, 1<<20)
	if string(r1[0]) != string(r2[0]) || len(r1) != 3 {
		t.Fatalf("two reads without commit: %q then %q", r1, r2)
	}
	got := drain(t, s, 777)
	if strings.Join(got, ",") != want(0, 20000) {
		t.Fatalf("read %d records, not in order", len(got))
	}
	if s.Len() != 0 || s.Size() != 0 || segments(t, dir) != 0 {
		t.Errorf("after draining: len %d size %d segments %d, want 0, 0, 0", s.Len(), s.Size(), segments(t, dir))
	}
	// It goes on after being emptied.
	if _, err := s.Append(records(0, 2)); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s, 10); strings.Join(got, ",") != want(0, 2) {
		t.Errorf("after emptying: %q", got)
	}
}

// TestAppendStopsAtTheCap: the cap bounds the files' size; Append says how many it took.
func TestAppendStopsAtTheCap(t *testing.T) {
	s, _ := open(t, t.TempDir(), 10*19+5) // room for ten 19-byte frames
	n, err := s.Append(records(0, 15))
	if n != 10 || !errors.Is(err, ErrFull) {
		t.Fatalf("appended %d, %v; want 10, ErrFull", n, err)
	}
	if s.Size() > 10*19+5 {
		t.Errorf("size %d over the cap", s.Size())
	}
	if n, err := s.Append(records(15, 16)); n != 0 || !errors.Is(err, ErrFull) {
		t.Errorf("append to a full spool: %d, %v", n, err)
	}
	// Room is made by delivering.
	recs, c, _ := s.Read(5, 1<<20)
	if err := s.Commit(c); err != nil || len(recs) != 5 {
		t.Fatal(err)
	}
	if got := drain(t, s, 100); strings.Join(got, ",") != want(5, 10) {
		t.Errorf("read %q, want records 5 to 9", got)
	}
	if n, err := s.Append(records(10, 12)); n != 2 || err != nil {
		t.Errorf("append after draining: %d, %v", n, err)
	}
}

// TestReopenResumesAfterTheCommitted: a new Open reads on from the last commit.
func TestReopenResumesAfterTheCommitted(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, 4096) // segments of 4 KiB: the records span several
	if _, err := s.Append(records(0, 500)); err == nil {
		t.Fatal("4 KiB took 500 records")
	}
	n := s.Len()
	recs, c, _ := s.Read(30, 1<<20)
	if err := s.Commit(c); err != nil || len(recs) != 30 {
		t.Fatalf("commit %d: %v", len(recs), err)
	}
	s.Close()

	s2, _ := open(t, dir, 4096)
	if s2.Len() != n-30 {
		t.Errorf("reopened with %d records, want %d", s2.Len(), n-30)
	}
	if got := drain(t, s2, 7); strings.Join(got, ",") != want(30, int(n)) {
		t.Errorf("after reopening: %d records %q..., want 30 to %d", len(got), got[:1], n-1)
	}
}

// TestTornTailIsCutAndTheRestKept: a crash mid-append leaves part of a frame; Open keeps
// every whole record before it, cuts the rest, says so, and appends after it.
func TestTornTailIsCutAndTheRestKept(t *testing.T) {
	for _, tt := range []struct {
		name string
		tear func(t *testing.T, path string)
		keep int // whole records left
	}{
		{"half a record", func(t *testing.T, path string) { truncateBy(t, path, 5) }, 2},
		{"half a header", func(t *testing.T, path string) { truncateBy(t, path, 19-3) }, 2},
		{"zeroes after the last record", func(t *testing.T, path string) { appendBytes(t, path, make([]byte, 64)) }, 3},
		{"a checksum that does not match", func(t *testing.T, path string) { flipLastByte(t, path) }, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, dir, 1<<20)
			if _, err := s.Append(records(0, 3)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
			tt.tear(t, paths[len(paths)-1])

			s2, logs := open(t, dir, 1<<20)
			if s2.Len() != int64(tt.keep) {
				t.Errorf("len %d, want the %d whole records", s2.Len(), tt.keep)
			}
			if !strings.Contains(logs.String(), "skipped") {
				t.Errorf("the cut is not logged: %s", logs)
			}
			if _, err := s2.Append(records(3, 5)); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(drain(t, s2, 10), ",")
			wantRecs := strings.Join([]string{want(0, tt.keep), want(3, 5)}, ",")
			if got != wantRecs {
				t.Errorf("read %q, want %q", got, wantRecs)
			}
		})
	}
}

// TestDamagedRecordEndsItsSegment: a record damaged in an older segment ends that segment;
// the segments after it are delivered.
func TestDamagedRecordEndsItsSegment(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, 4096*8) // segments of 4 KiB, 215 records each
	if _, err := s.Append(records(0, 400)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	paths, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(paths) != 2 {
		t.Fatalf("%d segments, want 2", len(paths))
	}
	b, _ := os.ReadFile(paths[0])
	b[19*10+frameHeader] ^= 0xff // record 10's first byte
	if err := os.WriteFile(paths[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, logs := open(t, dir, 4096*8)
	got := drain(t, s2, 50)
	perSeg := int(s2.segMax / 19)
	if strings.Join(got, ",") != strings.Join([]string{want(0, 10), want(perSeg, 400)}, ",") {
		t.Errorf("read %d records; want 0-9 then the second segment's (from %d)", len(got), perSeg)
	}
	if !strings.Contains(logs.String(), "skipped_bytes") {
		t.Errorf("damage not logged: %s", logs)
	}
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-n); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flipLastByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
