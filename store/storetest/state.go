package storetest

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/llmgw/llmgw/gateway/snapshot"
)

// testState covers SaveState and LoadState: a missing key, upsert, independent keys, a large
// value, concurrent first saves, refusals, no OnChange, and no reach into the store's own
// settings.
func testState(t *testing.T, h *harness) {
	ctx := t.Context()
	st := h.st
	if got, err := st.LoadState(ctx, "governance.limiter"); err != nil || got != nil {
		t.Fatalf("LoadState of a missing key = %q, %v; want nil, nil", got, err)
	}
	before := h.changes.Load()
	ok(t, st.SaveState(ctx, "governance.limiter", []byte(`{"v":1}`)))
	ok(t, st.SaveState(ctx, "governance.budget", []byte(`{"v":1,"s":[]}`)))
	ok(t, st.SaveState(ctx, "governance.limiter", []byte(`{"v":1,"b":[{"r":"é"}]}`)))
	if got := string(must(st.LoadState(ctx, "governance.limiter"))(t)); got != `{"v":1,"b":[{"r":"é"}]}` {
		t.Errorf("LoadState after two saves = %q", got)
	}
	if got := string(must(st.LoadState(ctx, "governance.budget"))(t)); got != `{"v":1,"s":[]}` {
		t.Errorf("LoadState of the other key = %q", got)
	}
	if n := h.changes.Load() - before; n != 0 {
		t.Errorf("SaveState called OnChange %d times; state is not configuration", n)
	}

	// A value the size of 1,000 buckets' full windows, well past any varchar default.
	big := []byte(`"` + strings.Repeat("0123456789", 100_000) + `"`)
	ok(t, st.SaveState(ctx, "big", big))
	if got := must(st.LoadState(ctx, "big"))(t); !bytes.Equal(got, big) {
		t.Errorf("LoadState of a %d-byte value returned %d bytes", len(big), len(got))
	}
	ok(t, st.SaveState(ctx, "empty", nil))
	if got, err := st.LoadState(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("LoadState of an empty value = %q (nil %v), %v; want empty and not nil", got, got == nil, err)
	}

	// Savers racing on a new key: an upsert, so none fails on the unique key.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() { errs <- st.SaveState(ctx, "raced", []byte{'0' + byte(i)}) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent SaveState: %v", err)
		}
	}
	if got := must(st.LoadState(ctx, "raced"))(t); len(got) != 1 {
		t.Errorf("LoadState after concurrent saves = %q", got)
	}

	for _, bad := range [][]byte{{0xff, 0xfe}, []byte("a\x00b")} {
		if err := st.SaveState(ctx, "bad", bad); err == nil {
			t.Errorf("SaveState(%q) succeeded; want an error (not UTF-8 text)", bad)
		}
	}
	if err := st.SaveState(ctx, "", []byte("x")); err == nil {
		t.Error("SaveState with an empty key succeeded")
	}
	if _, err := st.LoadState(ctx, ""); err == nil {
		t.Error("LoadState with an empty key succeeded")
	}

	// State keys never reach the store's own settings.
	h1 := snapshot.KeyHash("token")
	ok(t, st.SetAdminTokenHash(ctx, h1))
	ok(t, st.SaveState(ctx, "admin_token_hash", []byte("overwritten")))
	if got := must(st.AdminTokenHash(ctx))(t); got != h1 {
		t.Errorf("admin token hash = %q after SaveState(admin_token_hash), want %q", got, h1)
	}
	if got, err := st.LoadState(ctx, "missing"); err != nil || got != nil {
		t.Errorf("LoadState(missing) = %q, %v", got, err)
	}
}
