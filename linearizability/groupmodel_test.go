package linearizability

import (
	"bytes"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

func create(name, id string) GroupInput { return GroupInput{Op: GroupCreate, Name: name, ID: id} }
func remove(name, id string) GroupInput { return GroupInput{Op: GroupRemove, Name: name, ID: id} }
func getGroup(name string) GroupInput   { return GroupInput{Op: GroupGet, Name: name} }

var (
	groupOK       = GroupOutput{}
	groupConflict = GroupOutput{Conflict: true}
	groupFound    = GroupOutput{Found: true}
	groupNotFound = GroupOutput{}
)

func groupIs(id string) GroupOutput { return GroupOutput{ID: id, Found: true} }

func TestGroupStep(t *testing.T) {
	free := groupState{}
	held := func(id string, ids ...string) groupState { return groupState{live: id, bound: true, ids: ids} }
	freed := func(ids ...string) groupState { return groupState{ids: ids} }
	tests := []struct {
		name   string
		state  groupState
		in     GroupInput
		out    any
		wantOK bool
		want   groupState
	}{
		{"create free name", free, create("n", "a"), groupOK, true, held("a", "a")},
		{"create free name must not conflict", free, create("n", "a"), groupConflict, false, held("a", "a")},
		{"create held name conflicts", held("a", "a"), create("n", "b"), groupConflict, true, held("a", "a")},
		{"create held name must conflict", held("a", "a"), create("n", "b"), groupOK, false, held("a", "a")},
		{"create again is idempotent", held("a", "a"), create("n", "a"), groupOK, true, held("a", "a")},
		{"create removed id changes nothing", freed("a"), create("n", "a"), groupOK, true, freed("a")},
		{"create after remove", freed("a"), create("n", "b"), groupOK, true, held("b", "a", "b")},
		{"ids stay sorted", freed("b"), create("n", "a"), groupOK, true, held("a", "a", "b")},
		{"unnamed never conflicts", groupState{ids: []string{"a"}}, create("", "b"), groupOK, true, freed("a", "b")},
		{"remove live frees the name", held("a", "a"), remove("n", "a"), groupFound, true, freed("a")},
		{"remove removed is idempotent", freed("a"), remove("n", "a"), groupFound, true, freed("a")},
		{"remove unknown is not found", held("a", "a"), remove("n", "b"), groupNotFound, true, held("a", "a")},
		{"remove unknown claims found", free, remove("n", "b"), groupFound, false, free},
		{"remove old keeps the holder", held("b", "a", "b"), remove("n", "a"), groupFound, true, held("b", "a", "b")},
		{"get held", held("a", "a"), getGroup("n"), groupIs("a"), true, held("a", "a")},
		{"get held wrong id", held("a", "a"), getGroup("n"), groupIs("b"), false, held("a", "a")},
		{"get free", freed("a"), getGroup("n"), groupNotFound, true, freed("a")},
		{"get free sees removed group", freed("a"), getGroup("n"), groupIs("a"), false, freed("a")},
		{"unknown create applies", free, create("n", "a"), nil, true, held("a", "a")},
		{"unknown remove applies", held("a", "a"), remove("n", "a"), nil, true, freed("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, next := GroupModel.Step(tt.state, tt.in, tt.out)
			if ok != tt.wantOK || !GroupModel.Equal(next, tt.want) {
				t.Errorf("Step(%+v, %+v, %+v) = (%v, %+v), want (%v, %+v)", tt.state, tt.in, tt.out, ok, next, tt.wantOK, tt.want)
			}
			if GroupModel.Equal(next, tt.want) && GroupModel.Hash(next) != GroupModel.Hash(tt.want) {
				t.Errorf("Hash(%+v) = %x, Hash(%+v) = %x: equal states, want equal hashes", next, GroupModel.Hash(next), tt.want, GroupModel.Hash(tt.want))
			}
		})
	}
}

// TestGroupStepDoesNotAlias checks that a create does not write into the
// ids of the state it started from, which porcupine keeps and reuses.
func TestGroupStepDoesNotAlias(t *testing.T) {
	ids := make([]string, 1, 4) // room to grow in place
	ids[0] = "b"
	s := groupState{ids: ids}
	GroupModel.Step(s, create("n", "a"), groupOK)
	GroupModel.Step(s, create("n", "c"), groupOK)
	if len(s.ids) != 1 || ids[:2][1] != "" {
		t.Errorf("Step wrote into its input state's ids: %q", ids[:2])
	}
}

func TestCheckGroups(t *testing.T) {
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want Outcome
	}{
		{"create, get, remove, get", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			op(1, 20, 30, getGroup("n"), groupIs("a")),
			op(0, 40, 50, remove("n", "a"), groupFound),
			op(1, 60, 70, getGroup("n"), groupNotFound),
		}, Ok},
		{"get returns a group removed before it was called", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			op(0, 20, 30, remove("n", "a"), groupFound),
			op(1, 40, 50, getGroup("n"), groupIs("a")),
		}, Illegal},
		{"get overlapping the remove may see the group", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			op(0, 20, 30, remove("n", "a"), groupFound),
			op(1, 25, 50, getGroup("n"), groupIs("a")),
		}, Ok},
		{"two groups created with one name", []porcupine.Operation{
			op(0, 0, 100, create("n", "a"), groupOK),
			op(1, 10, 90, create("n", "b"), groupOK),
		}, Illegal},
		{"create race: one wins", []porcupine.Operation{
			op(0, 0, 100, create("n", "a"), groupConflict),
			op(1, 10, 90, create("n", "b"), groupOK),
			op(2, 110, 120, getGroup("n"), groupIs("b")),
		}, Ok},
		{"name not freed by remove", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			op(0, 20, 30, remove("n", "a"), groupFound),
			op(1, 40, 50, create("n", "b"), groupConflict),
		}, Illegal},
		{"conflict with nobody", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupConflict),
		}, Illegal},
		{"remove of a group that was never created", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupConflict),
			op(0, 20, 30, remove("n", "a"), groupFound),
		}, Illegal},
		{"unknown create may have happened", []porcupine.Operation{
			unknownOp(0, 0, create("n", "a")),
			op(1, 10, 20, create("n", "b"), groupConflict),
			op(1, 30, 40, getGroup("n"), groupIs("a")),
			op(2, 50, 60, remove("n", "a"), groupFound),
			op(1, 70, 80, create("n", "b"), groupOK),
		}, Ok},
		{"unknown create may never happen", []porcupine.Operation{
			unknownOp(0, 0, create("n", "a")),
			op(1, 10, 20, getGroup("n"), groupNotFound),
			op(2, 30, 40, remove("n", "a"), groupNotFound),
		}, Ok},
		{"unknown create cannot happen twice", []porcupine.Operation{
			unknownOp(0, 0, create("n", "a")),
			op(1, 10, 20, getGroup("n"), groupIs("a")),
			op(2, 30, 40, remove("n", "a"), groupFound),
			op(1, 50, 60, getGroup("n"), groupIs("a")),
		}, Illegal},
		{"unknown remove may have freed the name", []porcupine.Operation{
			op(0, 0, 10, create("n", "a"), groupOK),
			unknownOp(0, 20, remove("n", "a")),
			op(1, 30, 40, create("n", "b"), groupOK),
		}, Ok},
		{"names in different namespaces", []porcupine.Operation{
			op(0, 0, 100, GroupInput{Op: GroupCreate, Namespace: "x", Name: "n", ID: "a"}, groupOK),
			op(1, 0, 100, GroupInput{Op: GroupCreate, Namespace: "y", Name: "n", ID: "b"}, groupOK),
		}, Ok},
		{"unnamed groups never conflict", []porcupine.Operation{
			op(0, 0, 10, create("", "a"), groupOK),
			op(1, 20, 30, create("", "b"), groupOK),
			op(1, 40, 50, getGroup(""), groupNotFound),
		}, Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(GroupModel, tt.ops, checkTimeout).Outcome; got != tt.want {
				t.Errorf("Check(%d ops) = %v, want %v", len(tt.ops), got, tt.want)
			}
		})
	}
}

func TestGroupPartitionPanicsOnGroupWithTwoNames(t *testing.T) {
	ops := []porcupine.Operation{
		op(0, 0, 10, create("n", "a"), groupOK),
		op(0, 20, 30, remove("m", "a"), groupNotFound),
	}
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "operation 1") {
			t.Errorf("Partition(group with two names) panicked with %v, want a panic naming operation 1", r)
		}
	}()
	GroupModel.Partition(ops)
}

func TestGroupHistoryWithTwoNamesIsRejected(t *testing.T) {
	file := `{"model":"groups","operations":[
		{"client":0,"call":0,"return":10,"input":{"op":"create","name":"n","id":"a"},"output":{"conflict":false}},
		{"client":0,"call":20,"return":null,"input":{"op":"remove","namespace":"x","name":"n","id":"a"}}]}`
	_, _, _, err := ReadHistory(strings.NewReader(file))
	if err == nil || !strings.Contains(err.Error(), "operation 1") || !strings.Contains(err.Error(), "appears with name") {
		t.Errorf("ReadHistory(group with two names) = %v, want an error naming operation 1", err)
	}
	ops := []porcupine.Operation{op(0, 0, 10, create("n", "a"), groupOK), unknownOp(0, 20, remove("m", "a"))}
	var buf bytes.Buffer
	if err := WriteHistory(&buf, GroupModelName, ops); err == nil || buf.Len() != 0 {
		t.Errorf("WriteHistory(group with two names) = %v and %d bytes, want an error and nothing written", err, buf.Len())
	}
}

func TestGroupDescribe(t *testing.T) {
	tests := []struct {
		in   GroupInput
		out  any
		want string
	}{
		{GroupInput{Op: GroupCreate, Namespace: "ns", Name: "n", ID: "a"}, groupConflict, `create("ns"/"n", "a") -> conflict`},
		{create("n", "a"), groupOK, `create("n", "a") -> ok`},
		{remove("n", "a"), groupNotFound, `remove("n", "a") -> not found`},
		{getGroup("n"), groupIs("a"), `get("n") -> "a"`},
		{getGroup("n"), nil, `get("n") -> ?`},
	}
	for _, tt := range tests {
		if got := GroupModel.DescribeOperation(tt.in, tt.out); got != tt.want {
			t.Errorf("DescribeOperation(%+v, %+v) = %s, want %s", tt.in, tt.out, got, tt.want)
		}
	}
}
