package linearizability

import (
	"fmt"
	"strconv"
)

// ActorOp is an operation on the GCS named-actor table. The zero value is
// not an operation, so that a forgotten Op field is caught.
type ActorOp uint8

// The named-actor operations. See ActorModel for what each one returns.
const (
	// ActorRegister is get-or-create: it binds an unbound name to
	// ActorInput.ActorID (ActorOutput.Created set, ActorOutput.ActorID the
	// input's) or reports the actor the name is bound to (Created unset).
	ActorRegister ActorOp = iota + 1
	// ActorLookup reports in ActorOutput.Found whether the name is bound
	// and, if so, in ActorOutput.ActorID to which actor.
	ActorLookup
	// ActorRelease unbinds the name if it is bound to ActorInput.ActorID
	// (ActorOutput.Released set) and does nothing otherwise. The GCS
	// releases a name when its actor dies for good.
	ActorRelease
)

// actorOpNames holds the names used in history files and descriptions.
var actorOpNames = [...]string{ActorRegister: "register", ActorLookup: "lookup", ActorRelease: "release"}

// String returns the operation's name as used in history files:
// "register", "lookup" or "release".
func (o ActorOp) String() string {
	if o.valid() {
		return actorOpNames[o]
	}
	return "ActorOp(" + strconv.Itoa(int(o)) + ")"
}

func (o ActorOp) valid() bool { return o >= ActorRegister && o <= ActorRelease }

// parseActorOp returns the ActorOp named s.
func parseActorOp(s string) (ActorOp, bool) {
	for o := ActorRegister; o <= ActorRelease; o++ {
		if actorOpNames[o] == s {
			return o, true
		}
	}
	return 0, false
}

// ActorInput is the input of one named-actor operation.
type ActorInput struct {
	// Op is the operation.
	Op ActorOp
	// Namespace and Name name the actor; together they are the partition.
	Namespace, Name string
	// ActorID is the actor to register, or the actor whose name to
	// release. ActorLookup ignores it.
	ActorID string
}

// ActorOutput is the output of one named-actor operation. Only the fields
// that apply to the operation are checked: Created and ActorID for
// ActorRegister, Found and ActorID (if Found) for ActorLookup, Released for
// ActorRelease. An operation whose outcome is unknown has a nil output
// instead (see the package documentation).
type ActorOutput struct {
	// ActorID is the actor the name is bound to, after ActorRegister or a
	// successful ActorLookup.
	ActorID string
	// Created reports that ActorRegister bound the name to the input's
	// actor.
	Created bool
	// Found reports that ActorLookup found the name bound.
	Found bool
	// Released reports that ActorRelease unbound the name.
	Released bool
}

// actorDescribe renders an operation for porcupine's visualization, e.g.
// `register("ns"/"name", "a1") -> created`.
func actorDescribe(in ActorInput, out any) string {
	name := strconv.Quote(in.Name)
	if in.Namespace != "" {
		name = strconv.Quote(in.Namespace) + "/" + name
	}
	call := fmt.Sprintf("%s(%s, %q)", in.Op, name, in.ActorID)
	if in.Op == ActorLookup {
		call = fmt.Sprintf("lookup(%s)", name)
	}
	o, ok := out.(ActorOutput)
	if !ok {
		return call + " -> ?"
	}
	var res string
	switch in.Op {
	case ActorRegister:
		res = yesNo(o.Created, "created", "exists as "+strconv.Quote(o.ActorID))
	case ActorLookup:
		res = "unbound"
		if o.Found {
			res = strconv.Quote(o.ActorID)
		}
	case ActorRelease:
		res = yesNo(o.Released, "released", "not released")
	}
	return call + " -> " + res
}
