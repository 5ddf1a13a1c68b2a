// Package linearizability checks histories of GCS client operations against
// sequential specifications with porcupine
// (github.com/anishathalye/porcupine).
//
// The package has five parts:
//
//   - Models. KVModel specifies Ray's internal key-value store plus a
//     compare-and-swap (inputs KVInput, outputs KVOutput); ActorModel
//     specifies named actors (ActorInput, ActorOutput); GroupModel the
//     placement-group table: create, remove, get by name (GroupInput,
//     GroupOutput). All three partition the history by (namespace, key or
//     name), so each partition's state is a single slot (for groups, the
//     name's holder and the ids created with the name), and all set Hash,
//     without which porcupine's search blows up on concurrent histories.
//     ModelByName finds them by the names "kv", "actors" and "groups".
//   - Recording. A Recorder collects operations from simulated or real
//     clients: Call when a request is sent, then exactly one of Return,
//     Unknown or Discard.
//   - Checking. Check runs porcupine with a timeout and returns a Result;
//     Result.WriteHTML writes porcupine's visualization.
//   - Files. WriteHistory and ReadHistory store a history as JSON (see
//     docs/linearizability.md) so that `gray lin check` can re-check it.
//   - Reports. WriteJUnit and WriteSummaryJSON let campaigns publish their
//     results to CI.
//
// # Operations with an unknown outcome
//
// A client whose request timed out, or whose connection broke, cannot tell
// whether the operation took effect. Dropping the operation would be wrong
// (a later read that sees its write would look illegal), and guessing an
// output would be wrong too. Such an operation is recorded with
//
//   - Return = UnknownReturn (math.MaxInt64): it may have taken effect at
//     any moment after its call, including never;
//   - Output = nil: the model does not constrain the output.
//
// For an operation with a nil output, the models' Step applies the input
// to the state and always reports success, so the operation may be
// linearized at any point after its call, with its full effect. It does
// not need a separate "never took effect" branch: because its return is
// later than every other event of the history, porcupine may also
// linearize it last, after every other operation, where its effect can no
// longer be observed. Linearizing it there is the same as it never having
// happened. An unknown operation still constrains the check through its
// effect: two reads that see its write and then do not see it (with no
// other write in between) are still illegal.
//
// Unknown operations stay pending for the whole history, so each one
// widens porcupine's search; a workload should bound how many it leaves per
// key. Unknown reads (get, exists, lookup) never change the state and cost
// little.
//
// Operations that certainly had no effect, for example requests the server
// rejected as invalid before executing them, are not unknown: Recorder.Discard
// drops them.
//
// # Ownership and concurrency
//
// Models are pure functions and safe for concurrent use; porcupine calls
// them from one goroutine per partition. A Recorder is safe for concurrent
// use by real clients. Slices returned by this package are owned by the
// caller.
package linearizability
