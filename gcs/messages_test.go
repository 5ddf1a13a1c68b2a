package gcs

import (
	"errors"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

var hdr = Hdr{Client: "c", Seq: 1, AckBelow: 1}

func TestValidate(t *testing.T) {
	job := core.JobIDFromInt(1)
	actor := core.NewActorID(job, core.DriverTaskID(job), 1)
	node := core.NodeID{1}
	for _, tc := range []struct {
		name string
		m    request
		ok   bool
	}{
		{"get", &KVGet{Hdr: hdr, Key: "k"}, true},
		{"get empty key", &KVGet{Hdr: hdr}, false},
		{"get long key", &KVGet{Hdr: hdr, Key: strings.Repeat("k", KeySizeMax+1)}, false},
		{"get max key", &KVGet{Hdr: hdr, Key: strings.Repeat("k", KeySizeMax)}, true},
		{"put long namespace", &KVPut{Hdr: hdr, Namespace: strings.Repeat("n", NamespaceSizeMax+1), Key: "k"}, false},
		{"put max value", &KVPut{Hdr: hdr, Key: "k", Value: make([]byte, ValueSizeMax)}, true},
		{"put long value", &KVPut{Hdr: hdr, Key: "k", Value: make([]byte, ValueSizeMax+1)}, false},
		{"cas expected without exists", &KVCAS{Hdr: hdr, Key: "k", Expected: []byte("x")}, false},
		{"cas", &KVCAS{Hdr: hdr, Key: "k", Expected: []byte("x"), ExpectExists: true}, true},
		{"keys empty prefix", &KVKeys{Hdr: hdr}, true},
		{"no client", &KVGet{Hdr: Hdr{Seq: 1}, Key: "k"}, false},
		{"long client", &KVGet{Hdr: Hdr{Client: strings.Repeat("c", ClientIDSizeMax+1), Seq: 1}, Key: "k"}, false},
		{"seq 0", &KVGet{Hdr: Hdr{Client: "c"}, Key: "k"}, false},
		{"ack above seq", &KVGet{Hdr: Hdr{Client: "c", Seq: 1, AckBelow: 2}, Key: "k"}, false},
		{"register node", &RegisterNode{Hdr: hdr, Node: node, Addr: "a", Resources: core.MustResources(core.CPU, 1)}, true},
		{"register nil node", &RegisterNode{Hdr: hdr, Addr: "a"}, false},
		{"register bad resources", &RegisterNode{Hdr: hdr, Node: node, Addr: "a", Resources: core.Resources{{Name: "x", Amount: 0}}}, false},
		{"heartbeat resources without flag", &Heartbeat{Hdr: hdr, Node: node, Available: core.MustResources(core.CPU, 1)}, false},
		{"heartbeat empty available", &Heartbeat{Hdr: hdr, Node: node, HasAvailable: true}, true},
		{"add job", &AddJob{Hdr: hdr, DriverAddr: "d"}, true},
		{"add job big metadata", &AddJob{Hdr: hdr, DriverAddr: "d", Metadata: make([]byte, MetadataSizeMax+1)}, false},
		{"finish nil job", &FinishJob{Hdr: hdr}, false},
		{"register actor", &RegisterActor{Hdr: hdr, Actor: actor, Job: job, MaxRestarts: -1}, true},
		{"register actor wrong job", &RegisterActor{Hdr: hdr, Actor: actor, Job: core.JobIDFromInt(2)}, false},
		{"register actor with spec", &RegisterActor{Hdr: hdr, Actor: actor, Job: job, Spec: &ActorSpec{Class: "C", Owner: "o", MaxConcurrency: proto.ActorConcurrencyMax}}, true},
		{"register actor concurrency above max", &RegisterActor{Hdr: hdr, Actor: actor, Job: job, Spec: &ActorSpec{Class: "C", Owner: "o", MaxConcurrency: proto.ActorConcurrencyMax + 1}}, false},
		{"register actor long name", &RegisterActor{Hdr: hdr, Actor: actor, Job: job, Name: strings.Repeat("a", NameSizeMax+1)}, false},
		{"update alive", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorAlive, Node: node, Addr: "w"}, true},
		{"update alive no node", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorAlive}, false},
		{"update dead with node", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorDead, Node: node}, false},
		{"update restarting with cause", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorRestarting, DeathCause: "x"}, false},
		{"update dead with cause", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorDead, DeathCause: "x"}, true},
		{"update to unready", &UpdateActor{Hdr: hdr, Actor: actor, State: ActorDependenciesUnready}, false},
		{"named lookup", &GetNamedActor{Hdr: hdr, Name: "a"}, true},
		{"subscribe", &Subscribe{Hdr: hdr, Channels: []string{ChannelActor, ChannelNode, ChannelResources}}, true},
		{"subscribe nothing", &Subscribe{Hdr: hdr}, false},
		{"subscribe unknown", &Subscribe{Hdr: hdr, Channels: []string{"x"}}, false},
		{"poll", &Poll{Hdr: hdr, AckSeq: 9}, true},
		{"task events", &AddTaskEvents{Hdr: hdr, Events: []TaskEvent{{Task: core.NewTaskID(job, core.DriverTaskID(job), 1), State: TaskRunning}}}, true},
		{"task event without id", &AddTaskEvents{Hdr: hdr, Events: []TaskEvent{{State: TaskRunning}}}, false},
		{"task event bad state", &AddTaskEvents{Hdr: hdr, Events: []TaskEvent{{Task: core.NewTaskID(job, core.DriverTaskID(job), 1), State: 9}}}, false},
		{"task event long error", &AddTaskEvents{Hdr: hdr, Events: []TaskEvent{{Task: core.NewTaskID(job, core.DriverTaskID(job), 1), State: TaskFailed,
			Error: strings.Repeat("e", TaskErrorSizeMax+1)}}}, false},
		{"too many task events", &AddTaskEvents{Hdr: hdr, Events: make([]TaskEvent, TaskEventsPerBatchMax+1)}, false},
		{"list tasks", &ListTasks{Hdr: hdr, State: TaskFailed, Limit: ListTasksMax}, true},
		{"list tasks huge limit", &ListTasks{Hdr: hdr, Limit: ListTasksMax + 1}, false},
		{"list tasks bad state", &ListTasks{Hdr: hdr, State: 42}, false},
	} {
		if err := tc.m.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestErrorMatchesItsCode also pins the numbering of the codes the GCS
// persists in its dedup records (0 OK through 5 Unavailable).
func TestErrorMatchesItsCode(t *testing.T) {
	for code, want := range []error{nil, ErrInvalid, ErrNotFound, ErrConflict, ErrFailedPrecondition, ErrUnavailable} {
		err := replyError(rpc.Code(code), "msg")
		if want == nil {
			if err != nil {
				t.Errorf("code %v: error %v, want nil", rpc.Code(code), err)
			}
			continue
		}
		var ge *rpc.Error
		if !errors.Is(err, want) || !errors.As(err, &ge) || ge.Code != rpc.Code(code) || !strings.Contains(err.Error(), "msg") {
			t.Errorf("code %v: error %v does not match %v", rpc.Code(code), err, want)
		}
		if errors.Is(err, ErrTimeout) {
			t.Errorf("code %v matches ErrTimeout", rpc.Code(code))
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the codec with the GCS messages
// registered: it must never panic, and whatever decodes must validate and
// re-encode.
func FuzzDecode(f *testing.F) {
	c := core.NewCodec(1 << 20)
	job := core.JobIDFromInt(1)
	for _, m := range []core.Message{
		&KVPut{Hdr: hdr, Namespace: "ns", Key: "k", Value: []byte("v")},
		&KVCAS{Hdr: hdr, Key: "k", Expected: []byte("a"), ExpectExists: true, Value: []byte("b")},
		&RegisterNode{Hdr: hdr, Node: core.NodeID{1}, Addr: "r", Resources: core.MustResources(core.CPU, 2)},
		&RegisterActor{Hdr: hdr, Actor: core.NewActorID(job, core.DriverTaskID(job), 1), Job: job, Name: "a"},
		&Subscribe{Hdr: hdr, Channels: []string{ChannelNode}},
		&AddTaskEvents{Hdr: hdr, Dropped: 2, Events: []TaskEvent{{Task: core.NewTaskID(job, core.DriverTaskID(job), 1), Job: job, Name: "f",
			State: TaskFailed, Time: 5, Node: core.NodeID{1}, Worker: "w", ErrorKind: "task failed", Error: "boom"}}},
		&ListTasks{Hdr: hdr, State: TaskRunning, Job: job, Name: "f", Limit: 10},
		&Reply{Client: "c", Seq: 3, TasksTotal: 2, Tasks: []TaskInfo{{ID: core.NewTaskID(job, core.DriverTaskID(job), 1), Name: "f",
			Attempts: []TaskAttempt{{State: TaskFinished, StartTime: 1, EndTime: 2}}}}},
		&Reply{Client: "c", Seq: 1, Code: rpc.CodeNotFound, Err: "x", Nodes: []NodeInfo{{ID: core.NodeID{1}, State: NodeAlive}}},
		&Reply{Client: "c", Seq: 4, PlacementGroups: []PlacementGroupInfo{{ID: core.PlacementGroupID{1}, State: PlacementCreated,
			Bundles: []core.Resources{core.MustResources(core.CPU, 1), core.MustResources(core.CPU, 1)}, Nodes: []core.NodeID{{2}, {}}}}},
		&PollReply{Client: "c", Seq: 2, Head: 1, Messages: []PubMessage{{Seq: 1, Channel: ChannelNode, Node: &NodeInfo{State: NodeDead}}}},
	} {
		b, err := c.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.Decode(b)
		if err != nil {
			return
		}
		if v, ok := m.(core.Validator); ok && v.Validate() != nil {
			t.Fatalf("decoded %T fails Validate", m)
		}
		if _, err := c.Encode(m); err != nil {
			t.Fatalf("decoded %T does not re-encode: %v", m, err)
		}
	})
}

// FuzzLoadRecord feeds arbitrary keys and values to the recovery decoder:
// bad bytes must give an error, never a panic.
func FuzzLoadRecord(f *testing.F) {
	f.Add(kvKey("ns", "k"), []byte("v"))
	f.Add(dedupKey("client", 7), encode(&Reply{Client: "client", Seq: 7}))
	f.Add(nodeKey(core.NodeID{1}), encode(&NodeInfo{ID: core.NodeID{1}, State: NodeAlive}))
	f.Add(keyBoot, u64(3))
	f.Add(floorKey("c"), u64(9))
	f.Add([]byte{tableActor, 1, 2}, []byte{0xc1})
	f.Add(placementKey(core.PlacementGroupID{1}), encode(&PlacementGroupInfo{ID: core.PlacementGroupID{1}, State: PlacementCreated,
		Bundles: []core.Resources{core.MustResources(core.CPU, 1), core.MustResources(core.CPU, 1)}, Nodes: []core.NodeID{{2}, {}}}))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		r := &recovered{kv: map[string]map[string][]byte{}, replies: map[string]map[uint64]Reply{}, floors: map[string]uint64{}}
		_ = r.load(k, v)
	})
}

func TestKeyRoundTrips(t *testing.T) {
	ns, key, err := parseKVKey(kvKey("name\x00space", "k\xff"))
	if err != nil || ns != "name\x00space" || key != "k\xff" {
		t.Errorf("parseKVKey(kvKey) = %q, %q, %v", ns, key, err)
	}
	client, seq, err := parseDedupKey(dedupKey("abc", 1<<40))
	if err != nil || client != "abc" || seq != 1<<40 {
		t.Errorf("parseDedupKey(dedupKey) = %q, %d, %v", client, seq, err)
	}
	for _, bad := range [][]byte{nil, {tableKV}, {tableKV, 5, 'a'}, {tableKV, 0}} {
		if _, _, err := parseKVKey(bad); err == nil {
			t.Errorf("parseKVKey(%q) accepted", bad)
		}
	}
}
