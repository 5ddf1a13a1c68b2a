package linearizability

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzReadHistory checks that ReadHistory never panics, and that whatever
// it accepts survives a WriteHistory/ReadHistory round trip and can be
// checked without the models panicking.
func FuzzReadHistory(f *testing.F) {
	f.Add([]byte(exampleHistory))
	f.Add([]byte(`{"model":"kv","operations":[]}`))
	f.Add([]byte(`{"model":"actors","operations":[{"client":0,"call":1,"return":2,"input":{"op":"register","name":"n","actor_id":"a"},"output":{"actor_id":"a","created":true}},{"client":1,"call":0,"return":null,"input":{"op":"lookup","name":"n"}}]}`))
	f.Add([]byte(`{"model":"groups","operations":[{"client":0,"call":1,"return":2,"input":{"op":"create","name":"n","id":"a"},"output":{"conflict":false}},{"client":1,"call":0,"return":null,"input":{"op":"remove","name":"n","id":"a"}},{"client":2,"call":3,"return":4,"input":{"op":"get","name":"n"},"output":{"found":true,"id":"a"}}]}`))
	f.Add([]byte(`{"model":"kv","operations":[{"client":0,"call":1,"return":2,"input":{"op":"cas","key":"x","value":"v","expect_exists":false},"output":{"swapped":true}}]}`))
	f.Add([]byte(`{"model":"kv","operations":[{"client":0,"call":1,"return":0,"input":{"op":"delete","key":"x"},"output":{"deleted":true}}]}`))
	f.Add([]byte(`{"model":"kv","operations":[null,5,"x",{}]}`))
	f.Add([]byte(`{"model":"raft"}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		model, name, ops, err := ReadHistory(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteHistory(&buf, name, ops); err != nil {
			t.Fatalf("WriteHistory(ReadHistory(%q)) = %v, want nil", data, err)
		}
		_, name2, ops2, err := ReadHistory(&buf)
		if err != nil {
			t.Fatalf("ReadHistory(WriteHistory(ReadHistory(%q))) = %v, want nil", data, err)
		}
		if name2 != name || len(ops2) != len(ops) || len(ops) > 0 && !reflect.DeepEqual(ops2, ops) {
			t.Fatalf("round trip of %q = %s %+v, want %s %+v", data, name2, ops2, name, ops)
		}
		if len(ops) <= 8 {
			Check(model, ops, time.Second)
		}
	})
}
