package linearizability

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestPartitionOrder(t *testing.T) {
	ops := []porcupine.Operation{
		op(0, 0, 1, KVInput{Op: KVGet, Namespace: "b", Key: "a"}, KVOutput{}),
		op(0, 2, 3, KVInput{Op: KVGet, Namespace: "a", Key: "z"}, KVOutput{}),
		op(0, 4, 5, KVInput{Op: KVGet, Namespace: "a", Key: "b"}, KVOutput{}),
		op(0, 6, 7, KVInput{Op: KVGet, Namespace: "b", Key: "a"}, KVOutput{}),
	}
	parts := KVModel.Partition(ops)
	var got []int64 // call time of the first op of each partition
	for _, p := range parts {
		got = append(got, p[0].Call)
	}
	want := []int64{4, 2, 0}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Partition(...) first calls = %v, want %v", got, want)
	}
	if n := len(parts[2]); n != 2 {
		t.Errorf("Partition(...) for b/a has %d ops, want 2", n)
	}
}

func TestCheckEvents(t *testing.T) {
	call := func(client, id int, in any) porcupine.Event {
		return porcupine.Event{ClientId: client, Kind: porcupine.CallEvent, Value: in, Id: id}
	}
	ret := func(client, id int, out any) porcupine.Event {
		return porcupine.Event{ClientId: client, Kind: porcupine.ReturnEvent, Value: out, Id: id}
	}
	tests := []struct {
		name   string
		events []porcupine.Event
		want   bool
	}{
		{"linearizable", []porcupine.Event{
			call(0, 0, put("x", "1")),
			call(1, 1, put("y", "1")),
			ret(0, 0, KVOutput{Added: true}),
			call(2, 2, get("x")),
			ret(2, 2, found("1")),
			ret(1, 1, KVOutput{Added: true}),
		}, true},
		{"stale read", []porcupine.Event{
			call(0, 0, put("x", "1")),
			call(1, 1, put("y", "1")),
			ret(0, 0, KVOutput{Added: true}),
			call(2, 2, get("x")),
			ret(2, 2, KVOutput{}),
			ret(1, 1, KVOutput{Added: true}),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckEvents(KVModel, tt.events); got != tt.want {
				t.Errorf("CheckEvents(...) = %v, want %v", got, tt.want)
			}
		})
	}
}
