package linearizability

import (
	"errors"
	"strconv"
)

// ErrUnknownModel is returned, wrapped, when a history names a model that
// ModelByName does not know.
var ErrUnknownModel = errors.New("linearizability: unknown model")

// ErrInvalidHistory is returned, wrapped in a *HistoryError, when a history
// file or a history passed to WriteHistory is malformed.
var ErrInvalidHistory = errors.New("linearizability: invalid history")

// HistoryError describes what is wrong with a history and where.
// errors.Is(err, ErrInvalidHistory) holds for every HistoryError.
type HistoryError struct {
	// Op is the index of the offending operation in the history, or -1 if
	// the problem is with the file as a whole.
	Op int
	// Problem says what is wrong, in lowercase, e.g. `missing field "key"`.
	Problem string
	// Err is the underlying error, e.g. a JSON syntax error, or nil.
	Err error

	// kind is a sentinel besides ErrInvalidHistory that the error matches
	// (ErrUnknownModel), or nil. Unlike Err it is not part of the message,
	// which already says the same in Problem.
	kind error
}

// Error implements error.
func (e *HistoryError) Error() string {
	s := "linearizability: history"
	if e.Op >= 0 {
		s += ": operation " + strconv.Itoa(e.Op)
	}
	s += ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidHistory, ErrUnknownModel if the history names
// an unknown model, and the underlying error, if any.
func (e *HistoryError) Unwrap() []error {
	errs := []error{ErrInvalidHistory}
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// historyError returns a *HistoryError for operation op (-1 for the whole
// file) with the given problem and underlying error.
func historyError(op int, problem string, err error) error {
	return &HistoryError{Op: op, Problem: problem, Err: err}
}
