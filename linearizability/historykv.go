package linearizability

import (
	"encoding/json"
	"errors"
	"fmt"
)

// kvInputJSON is KVInput in history files. Pointers tell absent fields from
// zero values, so that required fields are enforced.
type kvInputJSON struct {
	Op           *string `json:"op,omitempty"`
	Namespace    *string `json:"namespace,omitempty"`
	Key          *string `json:"key,omitempty"`
	Value        *string `json:"value,omitempty"`
	Overwrite    *bool   `json:"overwrite,omitempty"`
	Expected     *string `json:"expected,omitempty"`
	ExpectExists *bool   `json:"expect_exists,omitempty"`
}

// kvOutputJSON is KVOutput in history files.
type kvOutputJSON struct {
	Value   *string `json:"value,omitempty"`
	Found   *bool   `json:"found,omitempty"`
	Added   *bool   `json:"added,omitempty"`
	Deleted *bool   `json:"deleted,omitempty"`
	Swapped *bool   `json:"swapped,omitempty"`
}

func decodeKVInput(raw json.RawMessage) (any, error) {
	var j kvInputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	if j.Op == nil {
		return nil, errors.New("missing field \"op\" (want one of get, put, delete, cas, exists)")
	}
	op, ok := parseKVOp(*j.Op)
	if !ok {
		return nil, fmt.Errorf("unknown op %q (want one of get, put, delete, cas, exists)", *j.Op)
	}
	if j.Key == nil {
		return nil, missingField("key", op.String())
	}
	in := KVInput{Op: op, Key: *j.Key}
	if j.Namespace != nil {
		in.Namespace = *j.Namespace
	}
	if j.Value != nil {
		in.Value = *j.Value
	} else if op == KVPut || op == KVCAS {
		return nil, missingField("value", op.String())
	}
	if j.Overwrite != nil {
		in.Overwrite = *j.Overwrite
	} else if op == KVPut {
		return nil, missingField("overwrite", op.String())
	}
	if j.ExpectExists != nil {
		in.ExpectExists = *j.ExpectExists
	} else if op == KVCAS {
		return nil, missingField("expect_exists", op.String())
	}
	if j.Expected != nil {
		in.Expected = *j.Expected
	} else if op == KVCAS && in.ExpectExists {
		return nil, missingField("expected", "cas with expect_exists")
	}
	return in, nil
}

func decodeKVOutput(input any, raw json.RawMessage) (any, error) {
	in := input.(KVInput) // decodeKVInput made it
	var j kvOutputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	var out KVOutput
	if j.Value != nil {
		out.Value = *j.Value
	}
	fields := []struct {
		name     string
		src      *bool
		dst      *bool
		required bool
	}{
		{"found", j.Found, &out.Found, in.Op == KVGet || in.Op == KVExists},
		{"added", j.Added, &out.Added, in.Op == KVPut},
		{"deleted", j.Deleted, &out.Deleted, in.Op == KVDelete},
		{"swapped", j.Swapped, &out.Swapped, in.Op == KVCAS},
	}
	for _, f := range fields {
		switch {
		case f.src != nil:
			*f.dst = *f.src
		case f.required:
			return nil, missingField(f.name, in.Op.String())
		}
	}
	if in.Op == KVGet && out.Found && j.Value == nil {
		return nil, missingField("value", "get that found the key")
	}
	return out, nil
}

func encodeKVInput(input any) (json.RawMessage, error) {
	in, ok := input.(KVInput)
	if !ok {
		return nil, fmt.Errorf("input has type %T, want KVInput", input)
	}
	if !in.Op.valid() {
		return nil, fmt.Errorf("input has invalid op %v", in.Op)
	}
	op := in.Op.String()
	return marshal(kvInputJSON{
		Op:           &op,
		Namespace:    optString(in.Namespace, false),
		Key:          &in.Key,
		Value:        optString(in.Value, in.Op == KVPut || in.Op == KVCAS),
		Overwrite:    optBool(in.Overwrite, in.Op == KVPut),
		Expected:     optString(in.Expected, in.Op == KVCAS && in.ExpectExists),
		ExpectExists: optBool(in.ExpectExists, in.Op == KVCAS),
	})
}

func encodeKVOutput(input, output any) (json.RawMessage, error) {
	in := input.(KVInput) // encodeKVInput checked it
	out, ok := output.(KVOutput)
	if !ok {
		return nil, fmt.Errorf("output has type %T, want KVOutput", output)
	}
	return marshal(kvOutputJSON{
		Value:   optString(out.Value, in.Op == KVGet && out.Found),
		Found:   optBool(out.Found, in.Op == KVGet || in.Op == KVExists),
		Added:   optBool(out.Added, in.Op == KVPut),
		Deleted: optBool(out.Deleted, in.Op == KVDelete),
		Swapped: optBool(out.Swapped, in.Op == KVCAS),
	})
}
