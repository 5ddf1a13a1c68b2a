package linearizability

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/anishathalye/porcupine"
)

// groupInputJSON is GroupInput in history files. Pointers tell absent
// fields from zero values, so that required fields are enforced.
type groupInputJSON struct {
	Op        *string `json:"op,omitempty"`
	Namespace *string `json:"namespace,omitempty"`
	Name      *string `json:"name,omitempty"`
	ID        *string `json:"id,omitempty"`
}

// groupOutputJSON is GroupOutput in history files.
type groupOutputJSON struct {
	ID       *string `json:"id,omitempty"`
	Found    *bool   `json:"found,omitempty"`
	Conflict *bool   `json:"conflict,omitempty"`
}

func decodeGroupInput(raw json.RawMessage) (any, error) {
	var j groupInputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	if j.Op == nil {
		return nil, errors.New("missing field \"op\" (want one of create, remove, get)")
	}
	op, ok := parseGroupOp(*j.Op)
	if !ok {
		return nil, fmt.Errorf("unknown op %q (want one of create, remove, get)", *j.Op)
	}
	if j.Name == nil {
		return nil, missingField("name", op.String())
	}
	in := GroupInput{Op: op, Name: *j.Name}
	if j.Namespace != nil {
		in.Namespace = *j.Namespace
	}
	if j.ID != nil {
		in.ID = *j.ID
	} else if op != GroupGet {
		return nil, missingField("id", op.String())
	}
	return in, nil
}

func decodeGroupOutput(input any, raw json.RawMessage) (any, error) {
	in := input.(GroupInput) // decodeGroupInput made it
	var j groupOutputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	var out GroupOutput
	if j.ID != nil {
		out.ID = *j.ID
	}
	fields := []struct {
		name     string
		src      *bool
		dst      *bool
		required bool
	}{
		{"found", j.Found, &out.Found, in.Op == GroupRemove || in.Op == GroupGet},
		{"conflict", j.Conflict, &out.Conflict, in.Op == GroupCreate},
	}
	for _, f := range fields {
		switch {
		case f.src != nil:
			*f.dst = *f.src
		case f.required:
			return nil, missingField(f.name, in.Op.String())
		}
	}
	if j.ID == nil && in.Op == GroupGet && out.Found {
		return nil, missingField("id", "get that found a group")
	}
	return out, nil
}

func encodeGroupInput(input any) (json.RawMessage, error) {
	in, ok := input.(GroupInput)
	if !ok {
		return nil, fmt.Errorf("input has type %T, want GroupInput", input)
	}
	if !in.Op.valid() {
		return nil, fmt.Errorf("input has invalid op %v", in.Op)
	}
	op := in.Op.String()
	return marshal(groupInputJSON{
		Op:        &op,
		Namespace: optString(in.Namespace, false),
		Name:      &in.Name,
		ID:        optString(in.ID, in.Op != GroupGet),
	})
}

func encodeGroupOutput(input, output any) (json.RawMessage, error) {
	in := input.(GroupInput) // encodeGroupInput checked it
	out, ok := output.(GroupOutput)
	if !ok {
		return nil, fmt.Errorf("output has type %T, want GroupOutput", output)
	}
	return marshal(groupOutputJSON{
		ID:       optString(out.ID, in.Op == GroupGet && out.Found),
		Found:    optBool(out.Found, in.Op == GroupRemove || in.Op == GroupGet),
		Conflict: optBool(out.Conflict, in.Op == GroupCreate),
	})
}

// checkGroupOps rejects a history in which one group appears with two
// names, which GroupModel cannot check (see GroupInput.ID).
func checkGroupOps(ops []porcupine.Operation) (int, error) {
	inputs := make([]any, len(ops))
	for i, op := range ops {
		inputs[i] = op.Input
	}
	return checkOneNamePerGroup(inputs)
}
