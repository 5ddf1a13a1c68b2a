package gcs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// Request messages, one struct per operation, each with the Validate that
// the codec runs on every decoded message.

// --- KV ---

// KVGet reads a key. Reply: Found, Value.
type KVGet struct {
	Hdr       Hdr
	Namespace string
	Key       string
}

// KVPut writes a key. Without Overwrite an existing key is left alone.
// Reply: Added reports that the key did not exist before.
type KVPut struct {
	Hdr       Hdr
	Namespace string
	Key       string
	Value     []byte
	Overwrite bool
}

// KVDel deletes a key. Reply: Deleted reports that it existed.
type KVDel struct {
	Hdr       Hdr
	Namespace string
	Key       string
}

// KVCAS sets Key to Value iff (ExpectExists and the key holds Expected) or
// (!ExpectExists and the key is absent). Reply: Swapped.
type KVCAS struct {
	Hdr          Hdr
	Namespace    string
	Key          string
	Expected     []byte
	ExpectExists bool
	Value        []byte
}

// KVExists reports whether a key exists. Reply: Found.
type KVExists struct {
	Hdr       Hdr
	Namespace string
	Key       string
}

// KVKeys lists the keys of a namespace that start with Prefix, sorted.
// More than KeysPerReplyMax matches is an InvalidArgument error.
type KVKeys struct {
	Hdr       Hdr
	Namespace string
	Prefix    string
}

func validateNamespace(ns string) error {
	if len(ns) > NamespaceSizeMax {
		return fmt.Errorf("namespace of %d bytes, limit %d", len(ns), NamespaceSizeMax)
	}
	return nil
}

func validateKey(ns, key string) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	if key == "" {
		return errors.New("empty key")
	}
	if len(key) > KeySizeMax {
		return fmt.Errorf("key of %d bytes, limit %d", len(key), KeySizeMax)
	}
	return nil
}

func validateValue(name string, v []byte) error {
	if len(v) > ValueSizeMax {
		return fmt.Errorf("%s of %d bytes, limit %d", name, len(v), ValueSizeMax)
	}
	return nil
}

// Validate implements core.Validator.
func (m *KVGet) Validate() error { return firstErr(m.Hdr.validate(), validateKey(m.Namespace, m.Key)) }

// Validate implements core.Validator.
func (m *KVPut) Validate() error {
	return firstErr(m.Hdr.validate(), validateKey(m.Namespace, m.Key), validateValue("value", m.Value))
}

// Validate implements core.Validator.
func (m *KVDel) Validate() error { return firstErr(m.Hdr.validate(), validateKey(m.Namespace, m.Key)) }

// Validate implements core.Validator.
func (m *KVCAS) Validate() error {
	err := firstErr(m.Hdr.validate(), validateKey(m.Namespace, m.Key), validateValue("value", m.Value), validateValue("expected value", m.Expected))
	if err == nil && !m.ExpectExists && len(m.Expected) > 0 {
		err = errors.New("expected value given but expect_exists is false")
	}
	return err
}

// Validate implements core.Validator.
func (m *KVExists) Validate() error {
	return firstErr(m.Hdr.validate(), validateKey(m.Namespace, m.Key))
}

// Validate implements core.Validator.
func (m *KVKeys) Validate() error {
	err := firstErr(m.Hdr.validate(), validateNamespace(m.Namespace))
	if err == nil && len(m.Prefix) > KeySizeMax {
		err = fmt.Errorf("prefix of %d bytes, limit %d", len(m.Prefix), KeySizeMax)
	}
	return err
}

// --- Nodes ---

// RegisterNode adds a node (or refreshes a live one's address and
// resources). A NodeID that was declared dead is refused with
// FailedPrecondition: a restarted raylet takes a new NodeID. Reply: Nodes
// holds the node's record.
type RegisterNode struct {
	Hdr       Hdr
	Node      core.NodeID
	Addr      core.Addr
	Resources core.Resources
	// Labels are the node's labels; they never change for a NodeID.
	Labels core.Labels `msgpack:",omitempty"`
}

// Heartbeat tells the GCS that a node lives, optionally with its available
// resources (HasAvailable). Reply: Dead=true tells the raylet that the GCS
// declared the node dead and that it must stop.
type Heartbeat struct {
	Hdr          Hdr
	Node         core.NodeID
	HasAvailable bool
	Available    core.Resources
	// Demand (with HasAvailable) is the raylet's queued work by shape.
	Demand []Demand `msgpack:",omitempty"`
	// Bundles are the placement group bundles the raylet holds; the
	// reply's DropBundles are those it must give back.
	Bundles []proto.BundleState `msgpack:",omitempty"`
}

// DrainNode marks a live node DRAINING: it stays in the cluster but takes no
// new work. Reply: Nodes holds the node's record.
type DrainNode struct {
	Hdr  Hdr
	Node core.NodeID
}

// GetNodes lists every node, dead ones included, sorted by id.
type GetNodes struct {
	Hdr Hdr
}

func validateNode(n core.NodeID) error {
	if n.IsNil() {
		return errors.New("nil node id")
	}
	return nil
}

func validateAddr(name string, a core.Addr, required bool) error {
	if required && a == "" {
		return fmt.Errorf("empty %s", name)
	}
	if len(a) > AddrSizeMax {
		return fmt.Errorf("%s of %d bytes, limit %d", name, len(a), AddrSizeMax)
	}
	return nil
}

func validateResources(name string, r core.Resources) error {
	if !r.Valid() {
		return fmt.Errorf("%s %v: want sorted unique names with positive amounts", name, r)
	}
	return nil
}

// Validate implements core.Validator.
func (m *RegisterNode) Validate() error {
	return firstErr(m.Hdr.validate(), validateNode(m.Node), validateAddr("address", m.Addr, true), validateResources("resources", m.Resources), m.Labels.Validate())
}

// Validate implements core.Validator.
func (m *Heartbeat) Validate() error {
	err := firstErr(m.Hdr.validate(), validateNode(m.Node), validateResources("available resources", m.Available))
	if err == nil && !m.HasAvailable && len(m.Available) > 0 {
		err = errors.New("available resources given without has_available")
	}
	if err == nil && len(m.Demand) > DemandShapesMax {
		err = fmt.Errorf("%d demand shapes, limit %d", len(m.Demand), DemandShapesMax)
	}
	for _, d := range m.Demand {
		if err == nil && (!d.Resources.Valid() || d.Count < 1 || len(d.Reason) > DemandReasonMax) {
			err = fmt.Errorf("demand %v ×%d with a %d-byte reason: want valid resources, a positive count and a reason of at most %d bytes", d.Resources, d.Count, len(d.Reason), DemandReasonMax)
		}
	}
	return err
}

// Validate implements core.Validator.
func (m *DrainNode) Validate() error { return firstErr(m.Hdr.validate(), validateNode(m.Node)) }

// Validate implements core.Validator.
func (m *GetNodes) Validate() error { return m.Hdr.validate() }

// --- Jobs ---

// AddJob registers a job and assigns it the next JobID from a persisted
// counter. Reply: Job.
type AddJob struct {
	Hdr        Hdr
	DriverAddr core.Addr
	Metadata   []byte
	// Binary names the job's staged binary: the GCS keeps it while the
	// job needs it (binaries.go).
	Binary string
	// Submission names the submitted job whose driver this is, if any.
	Submission string
}

// FinishJob marks a job finished; finishing a finished job is a no-op.
type FinishJob struct {
	Hdr Hdr
	Job core.JobID
}

// ListJobs lists every job, sorted by id.
type ListJobs struct {
	Hdr Hdr
}

// Validate implements core.Validator.
func (m *AddJob) Validate() error {
	err := firstErr(m.Hdr.validate(), validateAddr("driver address", m.DriverAddr, true))
	if err == nil && len(m.Metadata) > MetadataSizeMax {
		err = fmt.Errorf("metadata of %d bytes, limit %d", len(m.Metadata), MetadataSizeMax)
	}
	if err == nil && (len(m.Binary) > NameSizeMax || strings.Contains(m.Binary, "/")) {
		err = fmt.Errorf("binary name of %d bytes (limit %d) or with a /", len(m.Binary), NameSizeMax)
	}
	if err == nil && m.Submission != "" {
		err = proto.ValidSubmissionID(m.Submission)
	}
	return err
}

// Validate implements core.Validator.
func (m *FinishJob) Validate() error {
	err := m.Hdr.validate()
	if err == nil && m.Job.IsNil() {
		err = errors.New("nil job id")
	}
	return err
}

// Validate implements core.Validator.
func (m *ListJobs) Validate() error { return m.Hdr.validate() }

// --- Actors ---

// RegisterActor registers an actor. A named actor is get-or-create: if a
// live actor already holds (Namespace, Name), the reply carries its ActorID
// with Created=false. Reply: ActorID, Created, Actors holds the record.
//
// With a Spec the GCS manages the actor (Ray's GCS actor scheduler): the
// spec is persisted with the record, the actor starts in PENDING_CREATION,
// and the GCS leases a worker, creates it there, restarts it after
// failures and kills it when its owner dies; UpdateActor is refused for
// it. Without a Spec the actor starts in DEPENDENCIES_UNREADY and its
// registrant drives the state machine with UpdateActor.
type RegisterActor struct {
	Hdr         Hdr
	Actor       core.ActorID
	Job         core.JobID
	Namespace   string
	Name        string
	MaxRestarts int64
	Spec        *ActorSpec `msgpack:",omitempty"`
}

// KillActor kills a live actor. With NoRestart it goes DEAD for good;
// otherwise the worker of a GCS-managed actor is told to exit and the
// actor restarts as after any failure (while restarts remain). Killing a
// DEAD actor changes nothing. Reply: Actors holds the record.
type KillActor struct {
	Hdr       Hdr
	Actor     core.ActorID
	NoRestart bool
	// Cause, with NoRestart, is the death cause to record instead of
	// "killed by KillActor(no_restart)" (at most DeathCauseSizeMax).
	Cause string `msgpack:",omitempty"`
}

// UpdateActor moves an actor to State. Node (and optionally Addr) say where
// it runs when State is ALIVE; DeathCause says why when State is DEAD.
// Invalid transitions fail with FailedPrecondition. RESTARTING counts a
// restart; past MaxRestarts the actor goes DEAD instead. Reply: Actors holds
// the resulting record.
type UpdateActor struct {
	Hdr        Hdr
	Actor      core.ActorID
	State      ActorState
	Node       core.NodeID
	Addr       core.Addr
	DeathCause string
}

// GetActor reads one actor. Reply: Actors holds it.
type GetActor struct {
	Hdr   Hdr
	Actor core.ActorID
}

// GetNamedActor reads the live actor holding (Namespace, Name).
type GetNamedActor struct {
	Hdr       Hdr
	Namespace string
	Name      string
}

// ListActors lists every actor, dead ones included, sorted by id.
type ListActors struct {
	Hdr Hdr
}

func validateActorName(ns, name string, required bool) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	if required && name == "" {
		return errors.New("empty actor name")
	}
	if len(name) > NameSizeMax {
		return fmt.Errorf("actor name of %d bytes, limit %d", len(name), NameSizeMax)
	}
	return nil
}

func validateActorID(a core.ActorID) error {
	if a.IsNil() {
		return errors.New("nil actor id")
	}
	return nil
}

// Validate implements core.Validator.
func (m *RegisterActor) Validate() error {
	err := firstErr(m.Hdr.validate(), validateActorID(m.Actor), validateActorName(m.Namespace, m.Name, false))
	switch {
	case err != nil:
	case m.Job.IsNil():
		err = errors.New("nil job id")
	case m.Actor.Job() != m.Job:
		err = fmt.Errorf("actor %v does not belong to %v", m.Actor, m.Job)
	case m.MaxRestarts < -1:
		err = fmt.Errorf("max_restarts %d, want -1 (unlimited) or more", m.MaxRestarts)
	case m.Spec != nil:
		err = m.Spec.validate()
	}
	return err
}

func (sp *ActorSpec) validate() error {
	size := 0
	for i, a := range sp.Args {
		size += len(a.Value)
		if a.Ref != nil && a.Ref.Owner == "" {
			return fmt.Errorf("spec arg %d: reference without owner", i)
		}
	}
	switch {
	case sp.Class == "" || len(sp.Class) > proto.FunctionNameMax:
		return fmt.Errorf("spec class name of %d bytes, want 1..%d", len(sp.Class), proto.FunctionNameMax)
	case len(sp.Args) > proto.ArgsMax:
		return fmt.Errorf("spec has %d args, limit %d", len(sp.Args), proto.ArgsMax)
	case size > ValueSizeMax:
		return fmt.Errorf("spec args of %d bytes, limit %d; pass large arguments by reference", size, ValueSizeMax)
	case !sp.Resources.Valid():
		return fmt.Errorf("spec resources %v: want sorted unique names with positive amounts", sp.Resources)
	case !sp.PlacementResources.Valid() || (len(sp.PlacementResources) > 0 && !sp.Resources.FitsIn(sp.PlacementResources)):
		return fmt.Errorf("spec placement resources %v: want valid resources that contain the held %v", sp.PlacementResources, sp.Resources)
	case !proto.ValidBinaryHash(sp.Binary):
		return fmt.Errorf("spec binary %q: want empty or 64 lowercase hex digits", sp.Binary)
	case sp.MaxConcurrency > proto.ActorConcurrencyMax:
		return fmt.Errorf("spec max concurrency %d, limit %d", sp.MaxConcurrency, proto.ActorConcurrencyMax)
	}
	if err := proto.ValidateConcurrencyGroups(sp.ConcurrencyGroups); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	return firstErr(validateAddr("owner address", sp.Owner, true), validateAddr("owner raylet", sp.OwnerRaylet, false))
}

// Validate implements core.Validator.
func (m *KillActor) Validate() error {
	var err error
	if len(m.Cause) > DeathCauseSizeMax {
		err = fmt.Errorf("death cause of %d bytes, limit %d", len(m.Cause), DeathCauseSizeMax)
	}
	return firstErr(m.Hdr.validate(), validateActorID(m.Actor), err)
}

// Validate implements core.Validator.
func (m *UpdateActor) Validate() error {
	err := firstErr(m.Hdr.validate(), validateActorID(m.Actor), validateAddr("actor address", m.Addr, false))
	switch {
	case err != nil:
	case m.State < ActorPendingCreation || m.State > ActorDead:
		err = fmt.Errorf("cannot update an actor to %v", m.State)
	case m.State == ActorAlive && m.Node.IsNil():
		err = errors.New("ALIVE needs the node the actor runs on")
	case m.State != ActorAlive && (!m.Node.IsNil() || m.Addr != ""):
		err = fmt.Errorf("node and address only go with ALIVE, not %v", m.State)
	case m.State != ActorDead && m.DeathCause != "":
		err = fmt.Errorf("death cause only goes with DEAD, not %v", m.State)
	case len(m.DeathCause) > DeathCauseSizeMax:
		err = fmt.Errorf("death cause of %d bytes, limit %d", len(m.DeathCause), DeathCauseSizeMax)
	}
	return err
}

// Validate implements core.Validator.
func (m *GetActor) Validate() error { return firstErr(m.Hdr.validate(), validateActorID(m.Actor)) }

// Validate implements core.Validator.
func (m *GetNamedActor) Validate() error {
	return firstErr(m.Hdr.validate(), validateActorName(m.Namespace, m.Name, true))
}

// Validate implements core.Validator.
func (m *ListActors) Validate() error { return m.Hdr.validate() }

// --- Pubsub ---

// Subscribe creates the subscriber Hdr.Client (or changes the channels of an
// existing one, keeping its queue). Reply: Epoch.
type Subscribe struct {
	Hdr      Hdr
	Channels []string
}

// Poll acknowledges every message up to AckSeq and asks for the next ones.
// The server holds it until a message is queued or PollTimeout passes.
type Poll struct {
	Hdr    Hdr
	AckSeq uint64
}

func channelBit(ch string) uint8 {
	switch ch {
	case ChannelNode:
		return 1
	case ChannelActor:
		return 2
	case ChannelResources:
		return 4
	}
	return 0
}

// Validate implements core.Validator.
func (m *Subscribe) Validate() error {
	if err := m.Hdr.validate(); err != nil {
		return err
	}
	if len(m.Channels) == 0 || len(m.Channels) > 3 {
		return fmt.Errorf("%d channels, want 1..3 of %q, %q, %q", len(m.Channels), ChannelNode, ChannelActor, ChannelResources)
	}
	var seen uint8
	for _, ch := range m.Channels {
		b := channelBit(ch)
		if b == 0 {
			return fmt.Errorf("unknown channel %q (known: %q, %q, %q)", ch, ChannelNode, ChannelActor, ChannelResources)
		}
		if seen&b != 0 {
			return fmt.Errorf("channel %q listed twice", ch)
		}
		seen |= b
	}
	return nil
}

// Validate implements core.Validator.
func (m *Poll) Validate() error { return m.Hdr.validate() }

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
