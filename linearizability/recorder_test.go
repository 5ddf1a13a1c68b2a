package linearizability

import (
	"reflect"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	a := r.Call(0, put("x", "1"), 10)
	b := r.Call(1, get("x"), 12)
	c := r.Call(2, put("x", "2"), 14)
	d := r.Call(3, KVInput{Op: KVCAS, Key: ""}, 15)
	e := r.Call(0, get("x"), 30)
	r.Return(a, KVOutput{Added: true}, 20)
	r.Unknown(c)
	r.Discard(d)
	r.Return(b, found("1"), 25)
	// e stays open.

	want := []porcupine.Operation{
		op(0, 10, 20, put("x", "1"), KVOutput{Added: true}),
		op(1, 12, 25, get("x"), found("1")),
		unknownOp(2, 14, put("x", "2")),
		unknownOp(0, 30, get("x")),
	}
	if got := r.Operations(); !reflect.DeepEqual(got, want) {
		t.Errorf("Operations() = %+v, want %+v", got, want)
	}
	if got := r.Len(); got != len(want) {
		t.Errorf("Len() = %d, want %d", got, len(want))
	}

	// The open operation can still return after Operations.
	r.Return(e, found("2"), 40)
	got := r.Operations()
	if last := got[len(got)-1]; last.Return != 40 || last.Output != found("2") {
		t.Errorf("Operations()[last] after Return = %+v, want return 40 with output %+v", last, found("2"))
	}
	if res := Check(KVModel, got, checkTimeout); res.Outcome != Ok {
		t.Errorf("Check(recorded history) = %v, want %v", res.Outcome, Ok)
	}
}

func TestRecorderOperationsIsACopy(t *testing.T) {
	r := NewRecorder()
	r.Call(0, get("x"), 0)
	ops := r.Operations()
	ops[0].Call = 99
	if got := r.Operations()[0].Call; got != 0 {
		t.Errorf("Operations()[0].Call after caller's edit = %d, want 0", got)
	}
}

func TestRecorderMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		do   func(r *Recorder, id OpID)
	}{
		{"return twice", func(r *Recorder, id OpID) { r.Return(id, KVOutput{}, 5); r.Return(id, KVOutput{}, 6) }},
		{"return after unknown", func(r *Recorder, id OpID) { r.Unknown(id); r.Return(id, KVOutput{}, 6) }},
		{"unknown after discard", func(r *Recorder, id OpID) { r.Discard(id); r.Unknown(id) }},
		{"return before call", func(r *Recorder, id OpID) { r.Return(id, KVOutput{}, 0) }},
		{"return nil output", func(r *Recorder, id OpID) { r.Return(id, nil, 5) }},
		{"return of unknown id", func(r *Recorder, id OpID) { r.Return(id+1, KVOutput{}, 5) }},
		{"negative client", func(r *Recorder, id OpID) { r.Call(-1, get("x"), 0) }},
		{"nil input", func(r *Recorder, id OpID) { r.Call(0, nil, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecorder()
			id := r.Call(0, get("x"), 1)
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.do(r, id)
		})
	}
}

func TestRecorderConcurrent(t *testing.T) {
	const clients, perClient = 8, 100
	r := NewRecorder()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				now := int64(i * 10)
				id := r.Call(c, get("x"), now)
				r.Return(id, KVOutput{}, now+5)
			}
		})
	}
	wg.Wait()
	if got := r.Len(); got != clients*perClient {
		t.Errorf("Len() = %d, want %d", got, clients*perClient)
	}
}
