package linearizability

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/anishathalye/porcupine"
)

// historyCodec converts one model's inputs and outputs to and from their
// JSON form in history files. Decoders report problems as plain errors;
// ReadHistory adds the operation index. Encoders reject values of the wrong
// type, so that a history is never written in a form it cannot be read
// back from.
type historyCodec struct {
	decodeInput  func(raw json.RawMessage) (any, error)
	decodeOutput func(input any, raw json.RawMessage) (any, error)
	encodeInput  func(input any) (json.RawMessage, error)
	encodeOutput func(input, output any) (json.RawMessage, error)
	// checkOps, if set, checks what the model requires of a whole
	// history beyond each operation being well formed, on decoded
	// operations: it returns the index of the first offending one and
	// the problem, or -1 and nil.
	checkOps func(ops []porcupine.Operation) (int, error)
}

// historyCodecs holds the codec of each model ModelByName knows.
var historyCodecs = map[string]historyCodec{
	KVModelName: {
		decodeInput:  decodeKVInput,
		decodeOutput: decodeKVOutput,
		encodeInput:  encodeKVInput,
		encodeOutput: encodeKVOutput,
	},
	ActorModelName: {
		decodeInput:  decodeActorInput,
		decodeOutput: decodeActorOutput,
		encodeInput:  encodeActorInput,
		encodeOutput: encodeActorOutput,
	},
	GroupModelName: {
		decodeInput:  decodeGroupInput,
		decodeOutput: decodeGroupOutput,
		encodeInput:  encodeGroupInput,
		encodeOutput: encodeGroupOutput,
		checkOps:     checkGroupOps,
	},
}

// decodeObject decodes raw, which must be a JSON object with no fields
// beyond those of v, into v.
func decodeObject(raw json.RawMessage, v any) error {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("want a JSON object, got %s", abbreviate(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// marshal is json.Marshal without HTML escaping, so that keys and values
// such as "a<b" stay readable in history files.
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// abbreviate quotes at most the first 40 bytes of raw, for error messages.
func abbreviate(raw []byte) string {
	const maxLen = 40
	if len(raw) > maxLen {
		return fmt.Sprintf("%q...", raw[:maxLen])
	}
	return fmt.Sprintf("%q", raw)
}

// missingField is the error for a required field that is absent or null.
func missingField(name, op string) error {
	return fmt.Errorf("missing field %q (required for %s)", name, op)
}

// optString returns a pointer to s for encoding, or nil to omit s if it is
// empty and not required.
func optString(s string, required bool) *string {
	if s == "" && !required {
		return nil
	}
	return &s
}

// optBool returns a pointer to b for encoding, or nil to omit b if it is
// false and not required.
func optBool(b bool, required bool) *bool {
	if !b && !required {
		return nil
	}
	return &b
}
