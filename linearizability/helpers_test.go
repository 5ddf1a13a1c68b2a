package linearizability

import (
	"time"

	"github.com/anishathalye/porcupine"
)

// checkTimeout bounds every check in the tests; the histories are small,
// so hitting it means a bug, reported as outcome Unknown.
const checkTimeout = 10 * time.Second

// op returns a completed operation.
func op(client int, call, ret int64, in, out any) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

// unknownOp returns an operation whose outcome is unknown.
func unknownOp(client int, call int64, in any) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: UnknownReturn, Input: in}
}

func get(key string) KVInput { return KVInput{Op: KVGet, Key: key} }

func put(key, value string) KVInput {
	return KVInput{Op: KVPut, Key: key, Value: value, Overwrite: true}
}

func found(value string) KVOutput { return KVOutput{Found: true, Value: value} }

func register(name, id string) ActorInput {
	return ActorInput{Op: ActorRegister, Name: name, ActorID: id}
}
