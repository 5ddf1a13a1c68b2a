package linearizability

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestActorStep(t *testing.T) {
	unbound := actorState{}
	bound := func(id string) actorState { return actorState{actorID: id, bound: true} }
	lookup := ActorInput{Op: ActorLookup, Name: "n"}
	release := func(id string) ActorInput { return ActorInput{Op: ActorRelease, Name: "n", ActorID: id} }
	tests := []struct {
		name   string
		state  actorState
		in     ActorInput
		out    any
		wantOK bool
		want   actorState
	}{
		{"register unbound creates", unbound, register("n", "a"), ActorOutput{ActorID: "a", Created: true}, true, bound("a")},
		{"register unbound must create", unbound, register("n", "a"), ActorOutput{ActorID: "a"}, false, bound("a")},
		{"register bound returns owner", bound("a"), register("n", "b"), ActorOutput{ActorID: "a"}, true, bound("a")},
		{"register bound wrong owner", bound("a"), register("n", "b"), ActorOutput{ActorID: "b"}, false, bound("a")},
		{"register bound claims created", bound("a"), register("n", "b"), ActorOutput{ActorID: "b", Created: true}, false, bound("a")},
		{"register bound same id", bound("a"), register("n", "a"), ActorOutput{ActorID: "a"}, true, bound("a")},
		{"lookup unbound", unbound, lookup, ActorOutput{}, true, unbound},
		{"lookup bound", bound("a"), lookup, ActorOutput{ActorID: "a", Found: true}, true, bound("a")},
		{"lookup bound wrong id", bound("a"), lookup, ActorOutput{ActorID: "b", Found: true}, false, bound("a")},
		{"lookup bound claims unbound", bound("a"), lookup, ActorOutput{}, false, bound("a")},
		{"release owner", bound("a"), release("a"), ActorOutput{Released: true}, true, unbound},
		{"release other", bound("a"), release("b"), ActorOutput{}, true, bound("a")},
		{"release other claims released", bound("a"), release("b"), ActorOutput{Released: true}, false, bound("a")},
		{"release unbound", unbound, release("a"), ActorOutput{}, true, unbound},
		{"unknown register applies", unbound, register("n", "a"), nil, true, bound("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, next := ActorModel.Step(tt.state, tt.in, tt.out)
			if ok != tt.wantOK || next != tt.want {
				t.Errorf("Step(%+v, %+v, %+v) = (%v, %+v), want (%v, %+v)", tt.state, tt.in, tt.out, ok, next, tt.wantOK, tt.want)
			}
		})
	}
}

func TestCheckActors(t *testing.T) {
	created := func(id string) ActorOutput { return ActorOutput{ActorID: id, Created: true} }
	exists := func(id string) ActorOutput { return ActorOutput{ActorID: id} }
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want Outcome
	}{
		{"get-or-create race both created", []porcupine.Operation{
			op(0, 0, 100, register("n", "a"), created("a")),
			op(1, 10, 90, register("n", "b"), created("b")),
		}, Illegal},
		{"get-or-create race one wins", []porcupine.Operation{
			op(0, 0, 100, register("n", "a"), exists("b")),
			op(1, 10, 90, register("n", "b"), created("b")),
			op(2, 110, 120, ActorInput{Op: ActorLookup, Name: "n"}, ActorOutput{ActorID: "b", Found: true}),
		}, Ok},
		{"loser reports an id nobody registered", []porcupine.Operation{
			op(0, 0, 100, register("n", "a"), exists("c")),
			op(1, 10, 90, register("n", "b"), created("b")),
		}, Illegal},
		{"release then re-register", []porcupine.Operation{
			op(0, 0, 10, register("n", "a"), created("a")),
			op(0, 20, 30, ActorInput{Op: ActorRelease, Name: "n", ActorID: "a"}, ActorOutput{Released: true}),
			op(1, 40, 50, register("n", "b"), created("b")),
		}, Ok},
		{"stale release does not unbind new owner", []porcupine.Operation{
			op(0, 0, 10, register("n", "a"), created("a")),
			op(0, 20, 30, ActorInput{Op: ActorRelease, Name: "n", ActorID: "a"}, ActorOutput{Released: true}),
			op(1, 40, 50, register("n", "b"), created("b")),
			op(0, 60, 70, ActorInput{Op: ActorRelease, Name: "n", ActorID: "a"}, ActorOutput{Released: true}),
		}, Illegal},
		{"unknown register may have won", []porcupine.Operation{
			unknownOp(0, 0, register("n", "a")),
			op(1, 10, 20, register("n", "b"), exists("a")),
		}, Ok},
		{"names in different namespaces", []porcupine.Operation{
			op(0, 0, 100, ActorInput{Op: ActorRegister, Namespace: "x", Name: "n", ActorID: "a"}, created("a")),
			op(1, 0, 100, ActorInput{Op: ActorRegister, Namespace: "y", Name: "n", ActorID: "b"}, created("b")),
		}, Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(ActorModel, tt.ops, checkTimeout).Outcome; got != tt.want {
				t.Errorf("Check(%d ops) = %v, want %v", len(tt.ops), got, tt.want)
			}
		})
	}
}
