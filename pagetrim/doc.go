// Package pagetrim gives back the resident pages of the running program's own code and
// read-only data.
//
// A Go binary's code, read-only data and function tables are mapped from its file. Start-up
// touches pages across all of them (every package's init, the config load, the first
// requests), and the kernel maps 64 KiB around each page touched, so a gateway that has
// started holds most of its binary's code and tables resident, though a request touches a
// fraction of them. Executable unmaps those pages from the process; the ones still in use come
// back, from the page cache, the next time they are touched. Nothing is copied or freed: the pages stay
// in the page cache, clean, for the kernel to keep or reclaim like any other file page, and
// the process's resident set is what it uses, not what it once used.
//
// Only mappings of the executable that are not writable and hold no private copies, in memory
// or swapped out, are released: writable data, and read-only data the dynamic loader relocated
// in place (a PIE binary's RELRO), keep their pages, since the file does not hold their
// contents. Elsewhere than Linux, Executable does nothing.
package pagetrim
