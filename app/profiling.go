package app

import "runtime"

// heapProfileRate is the heap profile's sampling rate the process started with: Go's default
// (an allocation every 512 KiB), or GODEBUG=memprofilerate's.
var heapProfileRate = runtime.MemProfileRate

// profileHeap samples allocations for the heap profile with --pprof, the only way to read it,
// and stops sampling without. Sampling costs a stack unwind per sampled allocation, and keeps
// resident what the unwinds read: the table of sampled stacks and the function tables of the
// binary (about 0.6 MB of a gateway replica at 1,000 requests/s; see bench/README.md).
func profileHeap(on bool) {
	if on {
		runtime.MemProfileRate = heapProfileRate
	} else {
		runtime.MemProfileRate = 0
	}
}
