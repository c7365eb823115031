package replica

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFile: synced or not, the file holds what was written last, whole, and no temporary
// file is left beside it.
func TestWriteFile(t *testing.T) {
	for _, sync := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		for _, data := range []string{`{"v":1,"r":[1,2,3]}`, `{"v":1}`} {
			if err := WriteFile(path, []byte(data), sync); err != nil {
				t.Fatalf("sync %v: %v", sync, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != data {
				t.Fatalf("sync %v: file holds %q (%v), want %q", sync, got, err, data)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			t.Fatalf("sync %v: %d entries in the directory (%v), want only the file", sync, len(entries), err)
		}
	}
}
