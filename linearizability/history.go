package linearizability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// historyFileJSON is the top level of a history file.
type historyFileJSON struct {
	Model      *string            `json:"model"`
	Operations *[]json.RawMessage `json:"operations"`
}

// opJSON is one operation of a history file, as read. Return stays raw to
// tell null (unknown outcome) from absent (a malformed file).
type opJSON struct {
	Client *int            `json:"client"`
	Call   *int64          `json:"call"`
	Return json.RawMessage `json:"return"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
}

// opOutJSON is one operation of a history file, as written.
type opOutJSON struct {
	Client int             `json:"client"`
	Call   int64           `json:"call"`
	Return *int64          `json:"return"` // null for an unknown outcome
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output,omitempty"`
}

// ReadHistory reads a history file (see docs/linearizability.md) and
// returns the model it names, the model's name and the operations in file
// order. Operations with "return": null come back with Return =
// UnknownReturn and a nil output. A malformed file gives a *HistoryError
// naming the operation index and the problem; errors.Is(err,
// ErrInvalidHistory) holds for all of them, and errors.Is(err,
// ErrUnknownModel) if the model is unknown. The caller owns the returned
// slice.
func ReadHistory(r io.Reader) (model porcupine.Model, modelName string, ops []porcupine.Operation, err error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var file historyFileJSON
	if err := dec.Decode(&file); err != nil {
		return porcupine.Model{}, "", nil, historyError(-1, "not a history object", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return porcupine.Model{}, "", nil, historyError(-1, "trailing data after the history object", nil)
	}
	if file.Model == nil {
		return porcupine.Model{}, "", nil, historyError(-1, `missing field "model"`, nil)
	}
	modelName = *file.Model
	model, ok := ModelByName(modelName)
	if !ok {
		return porcupine.Model{}, "", nil, &HistoryError{Op: -1, Problem: unknownModelProblem(modelName), kind: ErrUnknownModel}
	}
	if file.Operations == nil {
		return porcupine.Model{}, "", nil, historyError(-1, `missing field "operations"`, nil)
	}
	codec := historyCodecs[modelName]
	raws := *file.Operations
	ops = make([]porcupine.Operation, len(raws))
	for i, raw := range raws {
		op, err := decodeOp(codec, raw)
		if err != nil {
			var he *HistoryError
			if errors.As(err, &he) {
				he.Op = i
				return porcupine.Model{}, "", nil, he
			}
			return porcupine.Model{}, "", nil, historyError(i, err.Error(), nil)
		}
		ops[i] = op
	}
	if codec.checkOps != nil {
		if i, err := codec.checkOps(ops); err != nil {
			return porcupine.Model{}, "", nil, historyError(i, err.Error(), nil)
		}
	}
	return model, modelName, ops, nil
}

// decodeOp decodes one operation. It returns a *HistoryError (without the
// index) for JSON errors it wraps, or a plain error stating the problem.
func decodeOp(codec historyCodec, raw json.RawMessage) (porcupine.Operation, error) {
	var j opJSON
	if err := decodeObject(raw, &j); err != nil {
		return porcupine.Operation{}, &HistoryError{Problem: "malformed operation", Err: err}
	}
	switch {
	case j.Client == nil:
		return porcupine.Operation{}, errors.New(`missing field "client"`)
	case *j.Client < 0:
		return porcupine.Operation{}, fmt.Errorf("negative client %d", *j.Client)
	case j.Call == nil:
		return porcupine.Operation{}, errors.New(`missing field "call"`)
	case *j.Call == UnknownReturn:
		return porcupine.Operation{}, fmt.Errorf("call time %d is reserved for unknown returns", *j.Call)
	case len(j.Return) == 0:
		return porcupine.Operation{}, errors.New(`missing field "return" (use null for an operation whose outcome is unknown)`)
	case isNull(j.Input):
		return porcupine.Operation{}, errors.New(`missing field "input"`)
	}
	op := porcupine.Operation{ClientId: *j.Client, Call: *j.Call}
	input, err := codec.decodeInput(j.Input)
	if err != nil {
		return porcupine.Operation{}, &HistoryError{Problem: "input", Err: err}
	}
	op.Input = input
	if isNull(j.Return) {
		if !isNull(j.Output) {
			return porcupine.Operation{}, errors.New(`has an "output" but "return" is null; an operation whose outcome is unknown has no output`)
		}
		op.Return = UnknownReturn
		return op, nil
	}
	ret, err := strconv.ParseInt(string(bytes.TrimSpace(j.Return)), 10, 64)
	switch {
	case err != nil:
		return porcupine.Operation{}, fmt.Errorf(`"return" is %s, want an integer time or null`, abbreviate(j.Return))
	case ret == UnknownReturn:
		return porcupine.Operation{}, fmt.Errorf("return time %d is reserved; use null for an operation whose outcome is unknown", ret)
	case ret < op.Call:
		return porcupine.Operation{}, fmt.Errorf("return %d before call %d", ret, op.Call)
	case isNull(j.Output):
		return porcupine.Operation{}, errors.New(`missing field "output" (required unless "return" is null)`)
	}
	op.Return = ret
	output, err := codec.decodeOutput(input, j.Output)
	if err != nil {
		return porcupine.Operation{}, &HistoryError{Problem: "output", Err: err}
	}
	op.Output = output
	return op, nil
}

// WriteHistory writes ops as a history file for the model called
// modelName, one operation per line, in the order given. Operations with
// Return = UnknownReturn must have a nil output and are written with
// "return": null; every other operation needs an output of the model's
// type. Nothing is written if any operation is invalid; the error is a
// *HistoryError naming the operation.
func WriteHistory(w io.Writer, modelName string, ops []porcupine.Operation) error {
	codec, ok := historyCodecs[modelName]
	if !ok {
		return &HistoryError{Op: -1, Problem: unknownModelProblem(modelName), kind: ErrUnknownModel}
	}
	var buf bytes.Buffer
	name, err := marshal(modelName)
	if err != nil {
		return fmt.Errorf("linearizability: write history: %w", err)
	}
	fmt.Fprintf(&buf, "{\n  \"model\": %s,\n  \"operations\": [", name)
	if codec.checkOps != nil {
		if err := checkOpInputs(codec, ops); err != nil {
			return err
		}
	}
	for i, op := range ops {
		line, err := encodeOp(codec, op)
		if err != nil {
			return historyError(i, err.Error(), nil)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(line)
	}
	if len(ops) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("]\n}\n")
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("linearizability: write history: %w", err)
	}
	return nil
}

// checkOpInputs runs codec.checkOps for WriteHistory, after checking that
// every input is encodable, so that checkOps meets only inputs of its
// model's type.
func checkOpInputs(codec historyCodec, ops []porcupine.Operation) error {
	for i, op := range ops {
		if _, err := codec.encodeInput(op.Input); err != nil {
			return historyError(i, err.Error(), nil)
		}
	}
	if i, err := codec.checkOps(ops); err != nil {
		return historyError(i, err.Error(), nil)
	}
	return nil
}

// encodeOp encodes one operation on one line.
func encodeOp(codec historyCodec, op porcupine.Operation) ([]byte, error) {
	switch {
	case op.ClientId < 0:
		return nil, fmt.Errorf("negative client %d", op.ClientId)
	case op.Call == UnknownReturn:
		return nil, fmt.Errorf("call time %d is reserved for unknown returns", op.Call)
	case op.Return < op.Call:
		return nil, fmt.Errorf("return %d before call %d", op.Return, op.Call)
	}
	input, err := codec.encodeInput(op.Input)
	if err != nil {
		return nil, err
	}
	j := opOutJSON{Client: op.ClientId, Call: op.Call, Input: input}
	switch {
	case op.Return == UnknownReturn && op.Output != nil:
		return nil, errors.New("has an output but its return is math.MaxInt64, which marks an unknown outcome")
	case op.Return == UnknownReturn:
	case op.Output == nil:
		return nil, fmt.Errorf("returns at %d with a nil output; an operation whose outcome is unknown returns at math.MaxInt64", op.Return)
	default:
		ret := op.Return
		j.Return = &ret
		if j.Output, err = codec.encodeOutput(op.Input, op.Output); err != nil {
			return nil, err
		}
	}
	return marshal(j)
}

// unknownModelProblem describes an unknown model name and lists the known
// ones.
func unknownModelProblem(name string) string {
	names := ModelNames()
	for i, n := range names {
		names[i] = strconv.Quote(n)
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	return fmt.Sprintf("unknown model %q (want %s)", name, want)
}
