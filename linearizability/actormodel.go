package linearizability

import (
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// actorState is the state of one named-actor partition: a single name.
type actorState struct {
	actorID string
	bound   bool
}

// ActorModel is the sequential specification of the GCS named-actor table,
// over ActorInput and ActorOutput (or a nil output for an operation whose
// outcome is unknown). It partitions histories by (Namespace, Name). Step
// panics if given inputs or outputs of other types: that is a bug in the
// caller, not a linearizability violation.
var ActorModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionOps(history, actorPartKey)
	},
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		return partitionEvents(history, actorPartKey)
	},
	Init: func() any { return actorState{} },
	Step: actorStep,
	Equal: func(a, b any) bool {
		return a.(actorState) == b.(actorState)
	},
	Hash: func(state any) uint64 {
		s := state.(actorState)
		return hashSlot(s.bound, s.actorID)
	},
	DescribeOperation: func(input, output any) string {
		return actorDescribe(mustActorInput(input), output)
	},
	DescribeState: func(state any) string {
		s := state.(actorState)
		if !s.bound {
			return "unbound"
		}
		return "bound to " + strconv.Quote(s.actorID)
	},
}

func actorPartKey(input any) partKey {
	in := mustActorInput(input)
	return partKey{namespace: in.Namespace, name: in.Name}
}

func mustActorInput(input any) ActorInput {
	in, ok := input.(ActorInput)
	if !ok {
		panic(fmt.Sprintf("linearizability: actor model: input has type %T, want ActorInput", input))
	}
	if !in.Op.valid() {
		panic(fmt.Sprintf("linearizability: actor model: invalid op %v", in.Op))
	}
	return in
}

// actorStep is ActorModel.Step. A nil output means the outcome is unknown:
// any output is accepted and the input takes effect.
func actorStep(state, input, output any) (bool, any) {
	s := state.(actorState)
	in := mustActorInput(input)
	next, want := actorApply(s, in)
	if output == nil {
		return true, next
	}
	got, ok := output.(ActorOutput)
	if !ok {
		panic(fmt.Sprintf("linearizability: actor model: output has type %T, want ActorOutput or nil", output))
	}
	return actorOutputsMatch(in.Op, got, want), next
}

// actorApply applies in to s and returns the new state and the output the
// specification demands.
func actorApply(s actorState, in ActorInput) (actorState, ActorOutput) {
	switch in.Op {
	case ActorRegister:
		if !s.bound {
			return actorState{actorID: in.ActorID, bound: true}, ActorOutput{ActorID: in.ActorID, Created: true}
		}
		return s, ActorOutput{ActorID: s.actorID}
	case ActorLookup:
		return s, ActorOutput{ActorID: s.actorID, Found: s.bound}
	case ActorRelease:
		if s.bound && s.actorID == in.ActorID {
			return actorState{}, ActorOutput{Released: true}
		}
		return s, ActorOutput{}
	}
	panic(fmt.Sprintf("linearizability: actor model: invalid op %v", in.Op))
}

// actorOutputsMatch compares the fields of got and want that apply to op.
func actorOutputsMatch(op ActorOp, got, want ActorOutput) bool {
	switch op {
	case ActorRegister:
		return got.Created == want.Created && got.ActorID == want.ActorID
	case ActorLookup:
		return got.Found == want.Found && (!want.Found || got.ActorID == want.ActorID)
	case ActorRelease:
		return got.Released == want.Released
	}
	panic(fmt.Sprintf("linearizability: actor model: invalid op %v", op))
}
