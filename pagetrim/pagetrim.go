package pagetrim

// Result is what one Executable call released.
type Result struct {
	// Mappings is the number of mappings released.
	Mappings int
	// Resident is how many bytes of them were resident before the call.
	Resident int64
	// Kept is the number of the executable's mappings left alone: writable, or holding
	// private copies of pages.
	Kept int
}
