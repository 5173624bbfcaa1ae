package cli

import "errors"

// ExitError carries a process exit code with an error that has already been
// reported (for example "1: some files are invalid").
type ExitError struct {
	Code int
	Err  error
	// Silent means the command already said everything: main prints nothing.
	Silent bool
}

// Error implements error.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// Report reports whether main should print err (false for a Silent ExitError).
func Report(err error) bool {
	var ee *ExitError
	return !errors.As(err, &ee) || !ee.Silent
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
