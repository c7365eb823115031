//go:build !linux

package pagetrim

// Executable does nothing where the resident set cannot be read and trimmed this way.
func Executable() (Result, error) { return Result{}, nil }
