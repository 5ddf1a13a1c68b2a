package linearizability

import (
	"encoding/json"
	"errors"
	"fmt"
)

// actorInputJSON is ActorInput in history files. Pointers tell absent
// fields from zero values, so that required fields are enforced.
type actorInputJSON struct {
	Op        *string `json:"op,omitempty"`
	Namespace *string `json:"namespace,omitempty"`
	Name      *string `json:"name,omitempty"`
	ActorID   *string `json:"actor_id,omitempty"`
}

// actorOutputJSON is ActorOutput in history files.
type actorOutputJSON struct {
	ActorID  *string `json:"actor_id,omitempty"`
	Created  *bool   `json:"created,omitempty"`
	Found    *bool   `json:"found,omitempty"`
	Released *bool   `json:"released,omitempty"`
}

func decodeActorInput(raw json.RawMessage) (any, error) {
	var j actorInputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	if j.Op == nil {
		return nil, errors.New("missing field \"op\" (want one of register, lookup, release)")
	}
	op, ok := parseActorOp(*j.Op)
	if !ok {
		return nil, fmt.Errorf("unknown op %q (want one of register, lookup, release)", *j.Op)
	}
	if j.Name == nil {
		return nil, missingField("name", op.String())
	}
	in := ActorInput{Op: op, Name: *j.Name}
	if j.Namespace != nil {
		in.Namespace = *j.Namespace
	}
	if j.ActorID != nil {
		in.ActorID = *j.ActorID
	} else if op != ActorLookup {
		return nil, missingField("actor_id", op.String())
	}
	return in, nil
}

func decodeActorOutput(input any, raw json.RawMessage) (any, error) {
	in := input.(ActorInput) // decodeActorInput made it
	var j actorOutputJSON
	if err := decodeObject(raw, &j); err != nil {
		return nil, err
	}
	var out ActorOutput
	if j.ActorID != nil {
		out.ActorID = *j.ActorID
	}
	fields := []struct {
		name     string
		src      *bool
		dst      *bool
		required bool
	}{
		{"created", j.Created, &out.Created, in.Op == ActorRegister},
		{"found", j.Found, &out.Found, in.Op == ActorLookup},
		{"released", j.Released, &out.Released, in.Op == ActorRelease},
	}
	for _, f := range fields {
		switch {
		case f.src != nil:
			*f.dst = *f.src
		case f.required:
			return nil, missingField(f.name, in.Op.String())
		}
	}
	if j.ActorID == nil && (in.Op == ActorRegister || in.Op == ActorLookup && out.Found) {
		return nil, missingField("actor_id", in.Op.String())
	}
	return out, nil
}

func encodeActorInput(input any) (json.RawMessage, error) {
	in, ok := input.(ActorInput)
	if !ok {
		return nil, fmt.Errorf("input has type %T, want ActorInput", input)
	}
	if !in.Op.valid() {
		return nil, fmt.Errorf("input has invalid op %v", in.Op)
	}
	op := in.Op.String()
	return marshal(actorInputJSON{
		Op:        &op,
		Namespace: optString(in.Namespace, false),
		Name:      &in.Name,
		ActorID:   optString(in.ActorID, in.Op != ActorLookup),
	})
}

func encodeActorOutput(input, output any) (json.RawMessage, error) {
	in := input.(ActorInput) // encodeActorInput checked it
	out, ok := output.(ActorOutput)
	if !ok {
		return nil, fmt.Errorf("output has type %T, want ActorOutput", output)
	}
	return marshal(actorOutputJSON{
		ActorID:  optString(out.ActorID, in.Op == ActorRegister || in.Op == ActorLookup && out.Found),
		Created:  optBool(out.Created, in.Op == ActorRegister),
		Found:    optBool(out.Found, in.Op == ActorLookup),
		Released: optBool(out.Released, in.Op == ActorRelease),
	})
}
