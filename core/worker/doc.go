// Package worker is the core worker: the library inside every driver and
// worker process that submits tasks, owns their results, counts references,
// resolves objects, retries failed tasks, rebuilds lost objects from
// lineage, and executes the tasks pushed to it.
//
// It follows Ray's ownership model. The submitter of a task owns its return
// objects: it records where they live (inline in its memory, or in some
// node's plasma store), counts the references to them (held by user code,
// by pending tasks that take them as arguments, and by borrowers), and
// frees every copy when the last reference goes. Other processes that get a
// reference are borrowers: they ask the owner for the value and tell it
// when they drop the reference.
//
// The worker is sans-IO: its host process forwards messages to Handle,
// forwards the GCS's node-death news to NodeDied, and provides an Executor
// that runs task bodies. See package core/proto for the protocol.
package worker
