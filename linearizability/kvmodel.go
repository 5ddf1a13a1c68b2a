package linearizability

import (
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// kvState is the state of one KV partition: a single key.
type kvState struct {
	value   string
	present bool
}

// KVModel is the sequential specification of the GCS internal KV store
// with compare-and-swap, over KVInput and KVOutput (or a nil output for an
// operation whose outcome is unknown). It partitions histories by
// (Namespace, Key). Step panics if given inputs or outputs of other types:
// that is a bug in the caller, not a linearizability violation.
var KVModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		return partitionOps(history, kvPartKey)
	},
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		return partitionEvents(history, kvPartKey)
	},
	Init: func() any { return kvState{} },
	Step: kvStep,
	Equal: func(a, b any) bool {
		return a.(kvState) == b.(kvState)
	},
	Hash: func(state any) uint64 {
		s := state.(kvState)
		return hashSlot(s.present, s.value)
	},
	DescribeOperation: func(input, output any) string {
		return kvDescribe(mustKVInput(input), output)
	},
	DescribeState: func(state any) string {
		s := state.(kvState)
		if !s.present {
			return "absent"
		}
		return strconv.Quote(s.value)
	},
}

func kvPartKey(input any) partKey {
	in := mustKVInput(input)
	return partKey{namespace: in.Namespace, name: in.Key}
}

func mustKVInput(input any) KVInput {
	in, ok := input.(KVInput)
	if !ok {
		panic(fmt.Sprintf("linearizability: kv model: input has type %T, want KVInput", input))
	}
	if !in.Op.valid() {
		panic(fmt.Sprintf("linearizability: kv model: invalid op %v", in.Op))
	}
	return in
}

// kvStep is KVModel.Step. A nil output means the outcome is unknown: any
// output is accepted and the input takes effect.
func kvStep(state, input, output any) (bool, any) {
	s := state.(kvState)
	in := mustKVInput(input)
	next, want := kvApply(s, in)
	if output == nil {
		return true, next
	}
	got, ok := output.(KVOutput)
	if !ok {
		panic(fmt.Sprintf("linearizability: kv model: output has type %T, want KVOutput or nil", output))
	}
	return kvOutputsMatch(in.Op, got, want), next
}

// kvApply applies in to s and returns the new state and the output the
// specification demands.
func kvApply(s kvState, in KVInput) (kvState, KVOutput) {
	switch in.Op {
	case KVGet:
		return s, KVOutput{Found: s.present, Value: s.value}
	case KVExists:
		return s, KVOutput{Found: s.present}
	case KVPut:
		if !s.present {
			return kvState{value: in.Value, present: true}, KVOutput{Added: true}
		}
		if in.Overwrite {
			return kvState{value: in.Value, present: true}, KVOutput{}
		}
		return s, KVOutput{}
	case KVDelete:
		return kvState{}, KVOutput{Deleted: s.present}
	case KVCAS:
		if (in.ExpectExists && s.present && s.value == in.Expected) || (!in.ExpectExists && !s.present) {
			return kvState{value: in.Value, present: true}, KVOutput{Swapped: true}
		}
		return s, KVOutput{}
	}
	panic(fmt.Sprintf("linearizability: kv model: invalid op %v", in.Op))
}

// kvOutputsMatch compares the fields of got and want that apply to op.
func kvOutputsMatch(op KVOp, got, want KVOutput) bool {
	switch op {
	case KVGet:
		return got.Found == want.Found && (!want.Found || got.Value == want.Value)
	case KVExists:
		return got.Found == want.Found
	case KVPut:
		return got.Added == want.Added
	case KVDelete:
		return got.Deleted == want.Deleted
	case KVCAS:
		return got.Swapped == want.Swapped
	}
	panic(fmt.Sprintf("linearizability: kv model: invalid op %v", op))
}
