package linearizability

import (
	"fmt"
	"strconv"
)

// GroupOp is an operation on the GCS placement-group table. The zero value
// is not an operation, so that a forgotten Op field is caught.
type GroupOp uint8

// The placement-group operations. See GroupModel for what each one
// returns.
const (
	// GroupCreate creates the group GroupInput.ID named GroupInput.Name.
	// It fails (GroupOutput.Conflict set) if another group that is not
	// removed holds the name. Creating an ID that exists, removed or not,
	// succeeds and changes nothing: the GCS is idempotent on the id.
	GroupCreate GroupOp = iota + 1
	// GroupRemove removes the group GroupInput.ID: GroupOutput.Found
	// reports that the group exists (it is removed now, or was already);
	// the GCS answers NotFound otherwise. A removed group frees its name.
	GroupRemove
	// GroupGet reads a group by name: GroupOutput.Found reports whether a
	// group that is not removed holds the name and, if so,
	// GroupOutput.ID which. GroupInput.ID is ignored.
	GroupGet
)

// groupOpNames holds the names used in history files and descriptions.
var groupOpNames = [...]string{GroupCreate: "create", GroupRemove: "remove", GroupGet: "get"}

// String returns the operation's name as used in history files:
// "create", "remove" or "get".
func (o GroupOp) String() string {
	if o.valid() {
		return groupOpNames[o]
	}
	return "GroupOp(" + strconv.Itoa(int(o)) + ")"
}

func (o GroupOp) valid() bool { return o >= GroupCreate && o <= GroupGet }

// parseGroupOp returns the GroupOp named s.
func parseGroupOp(s string) (GroupOp, bool) {
	for o := GroupCreate; o <= GroupGet; o++ {
		if groupOpNames[o] == s {
			return o, true
		}
	}
	return 0, false
}

// GroupInput is the input of one placement-group operation.
type GroupInput struct {
	// Op is the operation.
	Op GroupOp
	// Namespace and Name name the group; together they are the partition.
	// GroupRemove, which the GCS takes by id alone, must carry the name
	// its group was created with: a group's operations then all fall in
	// one partition. An empty Name is an unnamed group, which never
	// conflicts and which GroupGet never finds.
	Namespace, Name string
	// ID is the group to create or remove; GroupGet ignores it. One ID
	// must appear with one (Namespace, Name) only: the model is sound
	// only then, and its Partition panics otherwise (ReadHistory rejects
	// such files).
	ID string
}

// GroupOutput is the output of one placement-group operation. Only the
// fields that apply to the operation are checked: Conflict for
// GroupCreate, Found for GroupRemove, Found and ID (if Found) for
// GroupGet. An operation whose outcome is unknown has a nil output instead
// (see the package documentation).
type GroupOutput struct {
	// ID is the group GroupGet found.
	ID string
	// Found reports that GroupRemove's group exists, or that GroupGet
	// found a group holding the name.
	Found bool
	// Conflict reports that GroupCreate failed because another group
	// holds the name.
	Conflict bool
}

// groupDescribe renders an operation for porcupine's visualization, e.g.
// `create("ns"/"pg0", "pg:01") -> conflict`.
func groupDescribe(in GroupInput, out any) string {
	name := strconv.Quote(in.Name)
	if in.Namespace != "" {
		name = strconv.Quote(in.Namespace) + "/" + name
	}
	call := fmt.Sprintf("%s(%s, %q)", in.Op, name, in.ID)
	if in.Op == GroupGet {
		call = fmt.Sprintf("get(%s)", name)
	}
	o, ok := out.(GroupOutput)
	if !ok {
		return call + " -> ?"
	}
	var res string
	switch in.Op {
	case GroupCreate:
		res = yesNo(o.Conflict, "conflict", "ok")
	case GroupRemove:
		res = yesNo(o.Found, "ok", "not found")
	case GroupGet:
		res = "not found"
		if o.Found {
			res = strconv.Quote(o.ID)
		}
	}
	return call + " -> " + res
}
