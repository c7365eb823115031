package storetest

import "sync/atomic"

// counter counts OnChange calls; OnChange may run on any goroutine.
type counter = atomic.Int64
