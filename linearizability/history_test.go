package linearizability

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// exampleHistory is the example of docs/linearizability.md.
const exampleHistory = `{
  "model": "kv",
  "operations": [
    {"client": 0, "call": 100, "return": 250, "input": {"op": "put", "key": "x", "value": "1", "overwrite": true}, "output": {"added": true}},
    {"client": 1, "call": 120, "return": null, "input": {"op": "cas", "key": "x", "expect_exists": true, "expected": "1", "value": "2"}},
    {"client": 2, "call": 300, "return": 380, "input": {"op": "get", "key": "x"}, "output": {"found": true, "value": "2"}}
  ]
}
`

func TestReadHistoryExample(t *testing.T) {
	model, name, ops, err := ReadHistory(strings.NewReader(exampleHistory))
	if err != nil {
		t.Fatalf("ReadHistory(example) error = %v, want nil", err)
	}
	if name != KVModelName {
		t.Errorf("ReadHistory(example) model name = %q, want %q", name, KVModelName)
	}
	want := []porcupine.Operation{
		op(0, 100, 250, put("x", "1"), KVOutput{Added: true}),
		unknownOp(1, 120, KVInput{Op: KVCAS, Key: "x", ExpectExists: true, Expected: "1", Value: "2"}),
		op(2, 300, 380, get("x"), found("2")),
	}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("ReadHistory(example) ops = %+v, want %+v", ops, want)
	}
	if got := Check(model, ops, checkTimeout).Outcome; got != Ok {
		t.Errorf("Check(example) = %v, want %v", got, Ok)
	}
}

func TestDocExampleIsTested(t *testing.T) {
	const path = "../docs/linearizability.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v", path, err)
	}
	_, block, ok := strings.Cut(string(doc), "```json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatalf("%s has no json code block", path)
	}
	if block != exampleHistory {
		t.Errorf("%s example =\n%s\nwant exampleHistory =\n%s", path, block, exampleHistory)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	tests := []struct {
		model string
		ops   []porcupine.Operation
	}{
		{KVModelName, nil},
		{KVModelName, []porcupine.Operation{
			op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
			op(1, 5, 15, KVInput{Op: KVPut, Namespace: "ns", Key: "k\"<>&\u00e9\n", Value: "", Overwrite: false}, KVOutput{}),
			op(2, -3, 20, get(""), KVOutput{}),
			op(2, 21, 30, get("x"), found("")),
			op(3, 7, 7, KVInput{Op: KVCAS, Key: "x", Value: "2"}, KVOutput{Swapped: false}),
			op(3, 40, 50, KVInput{Op: KVCAS, Key: "x", ExpectExists: true, Expected: "", Value: "3"}, KVOutput{Swapped: true}),
			op(4, 40, 50, KVInput{Op: KVDelete, Key: "x"}, KVOutput{Deleted: true}),
			op(4, 60, 70, KVInput{Op: KVExists, Key: "x"}, KVOutput{Found: false}),
			op(5, 1, 2, get("x"), KVOutput{Value: "ignored but kept"}),
			unknownOp(6, 80, put("x", "9")),
		}},
		{ActorModelName, []porcupine.Operation{
			op(0, 0, 10, register("n", "a"), ActorOutput{ActorID: "a", Created: true}),
			op(1, 5, 15, ActorInput{Op: ActorRegister, Namespace: "ns", Name: "n", ActorID: "b"}, ActorOutput{ActorID: "a"}),
			op(2, 20, 30, ActorInput{Op: ActorLookup, Name: "n"}, ActorOutput{ActorID: "a", Found: true}),
			op(2, 31, 32, ActorInput{Op: ActorLookup, Name: "m"}, ActorOutput{}),
			op(3, 40, 50, ActorInput{Op: ActorRelease, Name: "n", ActorID: "a"}, ActorOutput{Released: true}),
			unknownOp(4, 60, ActorInput{Op: ActorRelease, Name: "n", ActorID: ""}),
		}},
		{GroupModelName, []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			op(1, 5, 15, GroupInput{Op: GroupCreate, Namespace: "ns", Name: "n", ID: "b"}, groupConflict),
			op(2, 20, 30, getGroup("n"), groupIs("a")),
			op(2, 31, 32, getGroup("m"), groupNotFound),
			op(3, 40, 50, remove("n", "a"), groupFound),
			op(3, 51, 52, remove("n", "c"), groupNotFound),
			unknownOp(4, 60, create("", "")),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHistory(&buf, tt.model, tt.ops); err != nil {
				t.Fatalf("WriteHistory(%q, %d ops) = %v, want nil", tt.model, len(tt.ops), err)
			}
			written := buf.String()
			_, name, got, err := ReadHistory(&buf)
			if err != nil {
				t.Fatalf("ReadHistory(WriteHistory(...)) error = %v, want nil; file:\n%s", err, written)
			}
			if name != tt.model {
				t.Errorf("ReadHistory(WriteHistory(...)) model = %q, want %q", name, tt.model)
			}
			if len(got) != len(tt.ops) || len(got) > 0 && !reflect.DeepEqual(got, tt.ops) {
				t.Errorf("ReadHistory(WriteHistory(ops)) = %+v, want %+v; file:\n%s", got, tt.ops, written)
			}
			if n := strings.Count(written, "\n"); n != len(tt.ops)+5 && len(tt.ops) > 0 {
				t.Errorf("WriteHistory wrote %d lines, want one per operation plus 5:\n%s", n, written)
			}
		})
	}
}

func TestWriteHistoryUnknownReturnIsNull(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHistory(&buf, KVModelName, []porcupine.Operation{unknownOp(0, 5, get("x"))}); err != nil {
		t.Fatalf("WriteHistory(unknown op) = %v, want nil", err)
	}
	if got := buf.String(); !strings.Contains(got, `"return":null`) || strings.Contains(got, `"output"`) {
		t.Errorf("WriteHistory(unknown op) wrote %s, want \"return\":null and no output", got)
	}
}

func TestWriteHistoryErrors(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		ops     []porcupine.Operation
		wantErr string
	}{
		{"unknown model", "nope", nil, `unknown model "nope"`},
		{"wrong input type", KVModelName, []porcupine.Operation{op(0, 0, 1, register("n", "a"), KVOutput{})}, "operation 0: input has type linearizability.ActorInput"},
		{"wrong output type", ActorModelName, []porcupine.Operation{op(0, 0, 1, register("n", "a"), ActorOutput{}), op(0, 0, 1, register("n", "a"), KVOutput{})}, "operation 1: output has type"},
		{"invalid op", KVModelName, []porcupine.Operation{op(0, 0, 1, KVInput{}, KVOutput{})}, "invalid op"},
		{"nil output with return", KVModelName, []porcupine.Operation{op(0, 0, 1, get("x"), nil)}, "nil output"},
		{"output on unknown", KVModelName, []porcupine.Operation{op(0, 0, UnknownReturn, get("x"), KVOutput{})}, "has an output"},
		{"return before call", KVModelName, []porcupine.Operation{op(0, 5, 1, get("x"), KVOutput{})}, "return 1 before call 5"},
		{"negative client", KVModelName, []porcupine.Operation{op(-1, 0, 1, get("x"), KVOutput{})}, "negative client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteHistory(&buf, tt.model, tt.ops)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "linearizability: ") {
				t.Fatalf("WriteHistory(...) = %v, want an error containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidHistory) {
				t.Errorf("errors.Is(%v, ErrInvalidHistory) = false, want true", err)
			}
			if buf.Len() != 0 {
				t.Errorf("WriteHistory(...) wrote %d bytes on error, want 0", buf.Len())
			}
		})
	}
}

func TestReadHistoryErrors(t *testing.T) {
	// kvOps wraps operation objects in a kv history.
	kvOps := func(ops ...string) string {
		return `{"model":"kv","operations":[` + strings.Join(ops, ",") + `]}`
	}
	const okOp = `{"client":0,"call":1,"return":2,"input":{"op":"get","key":"x"},"output":{"found":false}}`
	tests := []struct {
		name    string
		file    string
		wantErr string
		wantOp  int
		wantIs  error
	}{
		{"empty file", ``, "not a history object", -1, nil},
		{"not json", `hello`, "not a history object", -1, nil},
		{"array", `[]`, "not a history object", -1, nil},
		{"trailing data", `{"model":"kv","operations":[]} {}`, "trailing data", -1, nil},
		{"unknown top-level field", `{"model":"kv","operations":[],"extra":1}`, `unknown field "extra"`, -1, nil},
		{"missing model", `{"operations":[]}`, `missing field "model"`, -1, nil},
		{"unknown model", `{"model":"raft","operations":[]}`, `unknown model "raft" (want "actors", "groups" or "kv")`, -1, ErrUnknownModel},
		{"missing operations", `{"model":"kv"}`, `missing field "operations"`, -1, nil},
		{"operation not an object", kvOps(okOp, `5`), "operation 1: malformed operation: want a JSON object", 1, nil},
		{"missing client", kvOps(`{"call":1,"return":2,"input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 0: missing field "client"`, 0, nil},
		{"negative client", kvOps(`{"client":-2,"call":1,"return":2,"input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 0: negative client -2`, 0, nil},
		{"missing call", kvOps(okOp, okOp, `{"client":0,"return":2,"input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 2: missing field "call"`, 2, nil},
		{"missing return", kvOps(`{"client":0,"call":1,"input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 0: missing field "return" (use null`, 0, nil},
		{"return before call", kvOps(okOp, `{"client":0,"call":10,"return":2,"input":{"op":"get","key":"x"},"output":{"found":false}}`), "operation 1: return 2 before call 10", 1, nil},
		{"return not a number", kvOps(`{"client":0,"call":1,"return":"soon","input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 0: "return" is`, 0, nil},
		{"return reserved", kvOps(`{"client":0,"call":1,"return":9223372036854775807,"input":{"op":"get","key":"x"},"output":{"found":false}}`), "operation 0: return time 9223372036854775807 is reserved", 0, nil},
		{"missing input", kvOps(`{"client":0,"call":1,"return":2,"output":{"found":false}}`), `operation 0: missing field "input"`, 0, nil},
		{"missing output", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get","key":"x"}}`), `operation 0: missing field "output"`, 0, nil},
		{"output on unknown", kvOps(`{"client":0,"call":1,"return":null,"input":{"op":"get","key":"x"},"output":{"found":false}}`), `operation 0: has an "output" but "return" is null`, 0, nil},
		{"unknown op", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"increment","key":"x"},"output":{}}`), `operation 0: input: unknown op "increment" (want one of get, put, delete, cas, exists)`, 0, nil},
		{"actor op in kv history", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"register","key":"x"},"output":{}}`), `operation 0: input: unknown op "register"`, 0, nil},
		{"missing op", kvOps(`{"client":0,"call":1,"return":2,"input":{"key":"x"},"output":{}}`), `operation 0: input: missing field "op"`, 0, nil},
		{"missing key", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get"},"output":{"found":false}}`), `operation 0: input: missing field "key" (required for get)`, 0, nil},
		{"put missing overwrite", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"put","key":"x","value":"v"},"output":{"added":true}}`), `input: missing field "overwrite" (required for put)`, 0, nil},
		{"cas missing expected", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"cas","key":"x","value":"v","expect_exists":true},"output":{"swapped":true}}`), `input: missing field "expected"`, 0, nil},
		{"unknown input field", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get","key":"x","colour":"red"},"output":{"found":false}}`), `operation 0: input: json: unknown field "colour"`, 0, nil},
		{"wrong field type", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get","key":7},"output":{"found":false}}`), `operation 0: input: json: cannot unmarshal number`, 0, nil},
		{"get missing found", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get","key":"x"},"output":{}}`), `operation 0: output: missing field "found" (required for get)`, 0, nil},
		{"get found missing value", kvOps(`{"client":0,"call":1,"return":2,"input":{"op":"get","key":"x"},"output":{"found":true}}`), `output: missing field "value"`, 0, nil},
		{"register missing actor_id", `{"model":"actors","operations":[{"client":0,"call":1,"return":2,"input":{"op":"register","name":"n"},"output":{"created":true,"actor_id":"a"}}]}`, `operation 0: input: missing field "actor_id" (required for register)`, 0, nil},
		{"register output missing created", `{"model":"actors","operations":[{"client":0,"call":1,"return":2,"input":{"op":"register","name":"n","actor_id":"a"},"output":{"actor_id":"a"}}]}`, `operation 0: output: missing field "created"`, 0, nil},
		{"lookup unknown op", `{"model":"actors","operations":[{"client":0,"call":1,"return":2,"input":{"op":"get","name":"n"},"output":{}}]}`, `unknown op "get" (want one of register, lookup, release)`, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ops, err := ReadHistory(strings.NewReader(tt.file))
			if err == nil {
				t.Fatalf("ReadHistory(%s) = %d ops, nil error, want an error containing %q", tt.file, len(ops), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "linearizability: history: ") {
				t.Errorf("ReadHistory(%s) error = %q, want it to contain %q", tt.file, err, tt.wantErr)
			}
			var he *HistoryError
			if !errors.As(err, &he) {
				t.Fatalf("ReadHistory(%s) error = %T, want *HistoryError", tt.file, err)
			}
			if he.Op != tt.wantOp {
				t.Errorf("ReadHistory(%s) error Op = %d, want %d", tt.file, he.Op, tt.wantOp)
			}
			if !errors.Is(err, ErrInvalidHistory) {
				t.Errorf("errors.Is(%v, ErrInvalidHistory) = false, want true", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}

func TestModelByName(t *testing.T) {
	for _, name := range ModelNames() {
		m, ok := ModelByName(name)
		if !ok || m.Step == nil || m.Hash == nil || m.Partition == nil {
			t.Errorf("ModelByName(%q) = (model with Step %v, Hash %v, Partition %v; %v), want a complete model", name, m.Step != nil, m.Hash != nil, m.Partition != nil, ok)
		}
		if _, ok := historyCodecs[name]; !ok {
			t.Errorf("model %q has no history codec", name)
		}
	}
	if _, ok := ModelByName("nope"); ok {
		t.Errorf("ModelByName(%q) ok = true, want false", "nope")
	}
}
