package linearizability

import (
	"fmt"
	"math"
	"sync"

	"github.com/anishathalye/porcupine"
)

// UnknownReturn is the return time of an operation whose outcome is
// unknown: later than every real event, so that porcupine may linearize the
// operation at any point after its call, or last, which is the same as never
// (see the package documentation).
const UnknownReturn int64 = math.MaxInt64

// OpID identifies an operation recorded by a Recorder.
type OpID int

// opStatus is where a recorded operation stands.
type opStatus uint8

const (
	opOpen      opStatus = iota // called, no outcome yet
	opReturned                  // returned with a known output
	opUnknown                   // outcome unknown
	opDiscarded                 // failed without effect; not part of the history
)

// Recorder records a history of client operations. Each operation starts
// with Call and ends with exactly one of Return, Unknown or Discard;
// operations still open when Operations is called count as unknown. Times
// are whatever clock the clients share, in the simulator virtual
// nanoseconds.
//
// Misuse (ending an operation twice, a return before its call, a nil
// output) is a bug in the caller and panics.
//
// A Recorder is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	ops    []porcupine.Operation
	status []opStatus
	kept   int // operations not discarded
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{}
}

// Call records that client invoked an operation with input at time now and
// returns the operation's id. Client ids should be small and start at 0:
// porcupine's visualization draws one row per id. Input must be the model's
// input type (KVInput or ActorInput).
func (r *Recorder) Call(client int, input any, now int64) OpID {
	if client < 0 {
		panic(fmt.Sprintf("linearizability: recorder: negative client id %d", client))
	}
	if input == nil {
		panic("linearizability: recorder: nil input")
	}
	if now == UnknownReturn {
		panic("linearizability: recorder: call time is math.MaxInt64, which marks unknown returns")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := OpID(len(r.ops))
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: input, Call: now})
	r.status = append(r.status, opOpen)
	r.kept++
	return id
}

// Return records that operation id completed at time now with output,
// which must be the model's output type (KVOutput or ActorOutput), not nil.
func (r *Recorder) Return(id OpID, output any, now int64) {
	if output == nil {
		panic("linearizability: recorder: nil output; use Unknown for an operation whose outcome is unknown")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.open(id, "Return")
	if now < op.Call || now == UnknownReturn {
		panic(fmt.Sprintf("linearizability: recorder: operation %d returns at %d, before its call at %d or at math.MaxInt64", id, now, op.Call))
	}
	op.Output = output
	op.Return = now
	r.status[id] = opReturned
}

// Unknown records that the outcome of operation id is unknown (its request
// timed out, its connection broke): it may or may not have taken effect.
// The operation stays in the history with Return = UnknownReturn and a nil
// output; it is never dropped and its output never guessed.
func (r *Recorder) Unknown(id OpID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.open(id, "Unknown")
	op.Output = nil
	op.Return = UnknownReturn
	r.status[id] = opUnknown
}

// Discard drops operation id from the history. Use it only when the
// operation certainly failed without effect, e.g. the server rejected it as
// invalid before executing it; when in doubt, use Unknown.
func (r *Recorder) Discard(id OpID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open(id, "Discard")
	r.status[id] = opDiscarded
	r.kept--
}

// open returns operation id, which must be open, for method to end it.
func (r *Recorder) open(id OpID, method string) *porcupine.Operation {
	if id < 0 || int(id) >= len(r.ops) {
		panic(fmt.Sprintf("linearizability: recorder: %s of unknown operation %d", method, id))
	}
	if r.status[id] != opOpen {
		panic(fmt.Sprintf("linearizability: recorder: %s of operation %d, which has already ended", method, id))
	}
	return &r.ops[id]
}

// Operations returns the recorded history in the order of the Call
// invocations, without discarded operations. Operations still open count as
// unknown (Return = UnknownReturn, nil output) but stay open in the
// Recorder. The caller owns the returned slice.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := make([]porcupine.Operation, 0, r.kept)
	for i, op := range r.ops {
		switch r.status[i] {
		case opDiscarded:
			continue
		case opOpen:
			op.Output = nil
			op.Return = UnknownReturn
		}
		ops = append(ops, op)
	}
	return ops
}

// Len returns the number of operations Operations would return: every
// recorded operation except the discarded ones.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kept
}
