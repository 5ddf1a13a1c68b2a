package linearizability

import (
	"fmt"
	"strconv"
)

// KVOp is an operation on the GCS internal key-value store. The zero value
// is not an operation, so that a forgotten Op field is caught rather than
// read as a get.
type KVOp uint8

// The KV operations, with Ray's internal KV semantics plus a
// compare-and-swap. See KVModel for what each one returns.
const (
	// KVGet reads a key: KVOutput.Found and, if found, KVOutput.Value.
	KVGet KVOp = iota + 1
	// KVPut writes a key, replacing an existing value only if
	// KVInput.Overwrite is set: KVOutput.Added reports whether the key was
	// new.
	KVPut
	// KVDelete removes a key: KVOutput.Deleted reports whether it existed.
	KVDelete
	// KVCAS writes KVInput.Value if the key holds KVInput.Expected
	// (KVInput.ExpectExists set) or is absent (ExpectExists unset):
	// KVOutput.Swapped reports whether it wrote.
	KVCAS
	// KVExists reports in KVOutput.Found whether a key exists.
	KVExists
)

// kvOpNames holds the names used in history files and descriptions.
var kvOpNames = [...]string{KVGet: "get", KVPut: "put", KVDelete: "delete", KVCAS: "cas", KVExists: "exists"}

// String returns the operation's name as used in history files: "get",
// "put", "delete", "cas" or "exists".
func (o KVOp) String() string {
	if o.valid() {
		return kvOpNames[o]
	}
	return "KVOp(" + strconv.Itoa(int(o)) + ")"
}

func (o KVOp) valid() bool { return o >= KVGet && o <= KVExists }

// parseKVOp returns the KVOp named s.
func parseKVOp(s string) (KVOp, bool) {
	for o := KVGet; o <= KVExists; o++ {
		if kvOpNames[o] == s {
			return o, true
		}
	}
	return 0, false
}

// KVInput is the input of one KV operation. Fields that do not apply to Op
// are ignored by KVModel.
type KVInput struct {
	// Op is the operation.
	Op KVOp
	// Namespace and Key name the entry; together they are the partition.
	Namespace, Key string
	// Value is the value written by KVPut and KVCAS.
	Value string
	// Overwrite lets KVPut replace an existing value.
	Overwrite bool
	// Expected is the value KVCAS expects when ExpectExists is set.
	Expected string
	// ExpectExists makes KVCAS require the key to hold Expected; unset, it
	// requires the key to be absent.
	ExpectExists bool
}

// KVOutput is the output of one KV operation. Only the fields that apply
// to the operation are checked: Found and Value (if Found) for KVGet, Added
// for KVPut, Deleted for KVDelete, Swapped for KVCAS and Found for
// KVExists. An operation whose outcome is unknown has a nil output instead
// (see the package documentation).
type KVOutput struct {
	// Value is the value read by KVGet.
	Value string
	// Found reports that KVGet or KVExists found the key.
	Found bool
	// Added reports that KVPut created the key.
	Added bool
	// Deleted reports that KVDelete removed an existing key.
	Deleted bool
	// Swapped reports that KVCAS wrote.
	Swapped bool
}

// kvDescribe renders an operation for porcupine's visualization, e.g.
// `put("ns"/"k", "v", overwrite) -> added`.
func kvDescribe(in KVInput, out any) string {
	key := strconv.Quote(in.Key)
	if in.Namespace != "" {
		key = strconv.Quote(in.Namespace) + "/" + key
	}
	var call string
	switch in.Op {
	case KVPut:
		mode := "no-overwrite"
		if in.Overwrite {
			mode = "overwrite"
		}
		call = fmt.Sprintf("put(%s, %q, %s)", key, in.Value, mode)
	case KVCAS:
		expect := "absent"
		if in.ExpectExists {
			expect = strconv.Quote(in.Expected)
		}
		call = fmt.Sprintf("cas(%s, %s -> %q)", key, expect, in.Value)
	default:
		call = fmt.Sprintf("%s(%s)", in.Op, key)
	}
	o, ok := out.(KVOutput)
	if !ok {
		return call + " -> ?"
	}
	var res string
	switch in.Op {
	case KVGet:
		res = "absent"
		if o.Found {
			res = strconv.Quote(o.Value)
		}
	case KVPut:
		res = yesNo(o.Added, "added", "not added")
	case KVDelete:
		res = yesNo(o.Deleted, "deleted", "not deleted")
	case KVCAS:
		res = yesNo(o.Swapped, "swapped", "not swapped")
	case KVExists:
		res = yesNo(o.Found, "exists", "absent")
	}
	return call + " -> " + res
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
