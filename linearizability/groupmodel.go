package linearizability

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// groupState is the state of one placement-group partition: one name
// within its namespace.
type groupState struct {
	// live is the group holding the name, if bound.
	live  string
	bound bool
	// ids holds, sorted, every group created with this name, removed or
	// not, so that removing one that exists is told from removing one
	// that does not. Shared between states: never modified in place.
	ids []string
}

// GroupModel is the sequential specification of the GCS placement-group
// table, over GroupInput and GroupOutput (or a nil output for an operation
// whose outcome is unknown). It partitions histories by (Namespace, Name):
// a group's every operation carries the name it was created with, and an
// ID appears with one name only, so no operation reads or writes state
// outside its partition. Step panics if given inputs or outputs of other
// types, and Partition if one ID appears with two names: that is a bug in
// the caller, not a linearizability violation.
var GroupModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		inputs := make([]any, len(history))
		for i, op := range history {
			inputs[i] = op.Input
		}
		mustOneNamePerGroup(inputs)
		return partitionOps(history, groupPartKey)
	},
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		var inputs []any
		for _, ev := range history {
			if ev.Kind == porcupine.CallEvent {
				inputs = append(inputs, ev.Value)
			}
		}
		mustOneNamePerGroup(inputs)
		return partitionEvents(history, groupPartKey)
	},
	Init: func() any { return groupState{} },
	Step: groupStep,
	Equal: func(a, b any) bool {
		x, y := a.(groupState), b.(groupState)
		return x.live == y.live && x.bound == y.bound && slices.Equal(x.ids, y.ids)
	},
	Hash: func(state any) uint64 {
		s := state.(groupState)
		h := hashSlot(s.bound, s.live)
		for _, id := range s.ids {
			h = hashString(h, id)
		}
		return h
	},
	DescribeOperation: func(input, output any) string {
		return groupDescribe(mustGroupInput(input), output)
	},
	DescribeState: func(state any) string {
		s := state.(groupState)
		holder := "free"
		if s.bound {
			holder = "held by " + strconv.Quote(s.live)
		}
		return fmt.Sprintf("%s (%d groups created)", holder, len(s.ids))
	},
}

func groupPartKey(input any) partKey {
	in := mustGroupInput(input)
	return partKey{namespace: in.Namespace, name: in.Name}
}

func mustGroupInput(input any) GroupInput {
	in, ok := input.(GroupInput)
	if !ok {
		panic(fmt.Sprintf("linearizability: group model: input has type %T, want GroupInput", input))
	}
	if !in.Op.valid() {
		panic(fmt.Sprintf("linearizability: group model: invalid op %v", in.Op))
	}
	return in
}

// checkOneNamePerGroup reports the index of the first input whose ID was
// used earlier with another (Namespace, Name), and why, or -1. Partitioning
// by name is sound only if no group changes partition.
func checkOneNamePerGroup(inputs []any) (int, error) {
	names := make(map[string]partKey)
	for i, input := range inputs {
		in := mustGroupInput(input)
		if in.Op == GroupGet {
			continue
		}
		k := partKey{namespace: in.Namespace, name: in.Name}
		if prev, ok := names[in.ID]; !ok {
			names[in.ID] = k
		} else if prev != k {
			return i, fmt.Errorf("group %q appears with name %q/%q and with %q/%q; a group's operations must carry the name it was created with",
				in.ID, prev.namespace, prev.name, k.namespace, k.name)
		}
	}
	return -1, nil
}

func mustOneNamePerGroup(inputs []any) {
	if i, err := checkOneNamePerGroup(inputs); err != nil {
		panic(fmt.Sprintf("linearizability: group model: operation %d: %v", i, err))
	}
}

// groupStep is GroupModel.Step. A nil output means the outcome is unknown:
// any output is accepted and the input takes effect.
func groupStep(state, input, output any) (bool, any) {
	s := state.(groupState)
	in := mustGroupInput(input)
	next, want := groupApply(s, in)
	if output == nil {
		return true, next
	}
	got, ok := output.(GroupOutput)
	if !ok {
		panic(fmt.Sprintf("linearizability: group model: output has type %T, want GroupOutput or nil", output))
	}
	return groupOutputsMatch(in.Op, got, want), next
}

// groupApply applies in to s and returns the new state and the output the
// specification demands.
func groupApply(s groupState, in GroupInput) (groupState, GroupOutput) {
	i, exists := slices.BinarySearch(s.ids, in.ID)
	switch in.Op {
	case GroupCreate:
		switch {
		case exists:
			return s, GroupOutput{}
		case in.Name != "" && s.bound:
			return s, GroupOutput{Conflict: true}
		}
		next := groupState{ids: slices.Insert(slices.Clip(s.ids), i, in.ID)}
		if in.Name != "" {
			next.live, next.bound = in.ID, true
		}
		return next, GroupOutput{}
	case GroupRemove:
		if !exists {
			return s, GroupOutput{}
		}
		if s.bound && s.live == in.ID {
			s.live, s.bound = "", false
		}
		return s, GroupOutput{Found: true}
	case GroupGet:
		return s, GroupOutput{ID: s.live, Found: s.bound}
	}
	panic(fmt.Sprintf("linearizability: group model: invalid op %v", in.Op))
}

// groupOutputsMatch compares the fields of got and want that apply to op.
func groupOutputsMatch(op GroupOp, got, want GroupOutput) bool {
	switch op {
	case GroupCreate:
		return got.Conflict == want.Conflict
	case GroupRemove:
		return got.Found == want.Found
	case GroupGet:
		return got.Found == want.Found && (!want.Found || got.ID == want.ID)
	}
	panic(fmt.Sprintf("linearizability: group model: invalid op %v", op))
}
