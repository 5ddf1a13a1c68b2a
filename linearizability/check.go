package linearizability

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
)

// Outcome is the verdict of a linearizability check.
type Outcome string

// The outcomes of Check.
const (
	// Ok means the history is linearizable.
	Ok Outcome = "ok"
	// Illegal means the history is not linearizable: the system under test
	// broke its specification.
	Illegal Outcome = "illegal"
	// Unknown means the check timed out before reaching a verdict. It is
	// not a pass: shrink the history, bound its concurrency or raise the
	// timeout.
	Unknown Outcome = "unknown"
)

// Result is the result of Check.
type Result struct {
	// Outcome is the verdict.
	Outcome Outcome `json:"outcome"`
	// Ops is the number of operations checked.
	Ops int `json:"ops"`
	// Duration is how long the check took (wall clock).
	Duration time.Duration `json:"duration_ns"`
	// Info is porcupine's linearization data, for WriteHTML.
	Info porcupine.LinearizationInfo `json:"-"`

	// model is the model that was checked, for WriteHTML.
	model porcupine.Model
}

// Check checks whether ops is linearizable with respect to model, giving up
// after timeout (0 means no limit; always pass one for large or highly
// concurrent histories, whose check time grows exponentially). Every
// operation must have Return >= Call; Check panics otherwise, because such
// a history is a bug in whoever built it.
func Check(model porcupine.Model, ops []porcupine.Operation, timeout time.Duration) Result {
	for i, op := range ops {
		if op.Return < op.Call {
			panic(fmt.Sprintf("linearizability: check: operation %d returns at %d, before its call at %d", i, op.Return, op.Call))
		}
	}
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	r := Result{Ops: len(ops), Duration: time.Since(start), Info: info, model: model}
	switch res {
	case porcupine.Ok:
		r.Outcome = Ok
	case porcupine.Illegal:
		r.Outcome = Illegal
	default:
		r.Outcome = Unknown
	}
	return r
}

// String summarizes the result in one line, e.g. "illegal (1200 ops, 35ms)".
func (r Result) String() string {
	return fmt.Sprintf("%s (%d ops, %v)", r.Outcome, r.Ops, r.Duration.Round(time.Microsecond))
}

// errNoModel is returned by WriteHTML for a Result not made by Check.
var errNoModel = errors.New("linearizability: result has no model; use the Result returned by Check")

// WriteHTML writes porcupine's interactive visualization of the checked
// history to path: for an Illegal result, the longest partial
// linearizations and where they get stuck; otherwise a linearization.
func (r Result) WriteHTML(path string) error {
	var buf bytes.Buffer
	if err := r.RenderHTML(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("linearizability: write visualization to %s: %w", path, err)
	}
	return nil
}

// RenderHTML writes porcupine's self-contained visualization of the
// checked history to w (for an Illegal history it shows the longest
// linearizable prefix and where it breaks).
func (r Result) RenderHTML(w io.Writer) error {
	if r.model.Step == nil && r.model.StepContext == nil {
		return errNoModel
	}
	if err := porcupine.Visualize(r.model, r.Info, w); err != nil {
		return fmt.Errorf("linearizability: render visualization: %w", err)
	}
	return nil
}
