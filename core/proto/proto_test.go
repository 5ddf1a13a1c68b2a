package proto

import (
	"errors"
	"reflect"
	"testing"

	"github.com/grayrt/gray/core"
)

func TestEveryMessageRoundTrips(t *testing.T) {
	c := core.NewCodec(0)
	spec := TaskSpec{TaskID: core.NewTaskID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1), Function: "f", NumReturns: 1, Owner: "driver", Args: []Arg{{Value: []byte{1}}, {Ref: &ObjectRef{ID: core.ObjectID{1}, Owner: "w"}}}}
	for _, m := range []core.Message{&RequestLease{Spec: spec, LeaseID: 3}, &PushTask{Spec: spec}, &PushTaskReply{Error: NewError(KindWorkerDied, "f", "boom")}, &ChunkReply{Size: 9, Data: []byte("abc")},
		&ActorPing{ActorID: core.ActorID{1}, Incarnation: 2}, &LeaseCheck{LeaseID: 7}, &LeaseCheckReply{Held: true},
		&KillActor{ActorID: core.ActorID{1}, Incarnation: 3, NoRestart: true, LeaseID: 9},
		&CancelTask{Task: spec.TaskID, Attempt: 2, Force: true, Recursive: true}} {
		b, err := c.Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("decode %T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("Decode(Encode(%+v)) = %+v", m, got)
		}
	}
	if core.MessageName(msgPushTask) != "proto.PushTask" {
		t.Fatalf("name = %q", core.MessageName(msgPushTask))
	}
}

func TestSpecValidation(t *testing.T) {
	good := TaskSpec{Function: "f", Owner: "o"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []TaskSpec{
		{Owner: "o"},
		{Function: "f"},
		{Function: "f", Owner: "o", MaxRetries: -2},
		{Function: "f", Owner: "o", Resources: core.Resources{{Name: "CPU", Amount: -1}}},
		{Function: "f", Owner: "o", Args: []Arg{{Ref: &ObjectRef{}}}},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

func TestTaskErrorsMatchTheirSentinels(t *testing.T) {
	err := error(NewError(KindNodeDied, "f task:1", "node %s died", "n1"))
	if !errors.Is(err, ErrNodeDied) || errors.Is(err, ErrWorkerDied) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	var te *TaskError
	if !errors.As(err, &te) || te.Kind != KindNodeDied {
		t.Fatalf("errors.As failed for %v", err)
	}
	if !te.Retriable(false) || NewError(KindTaskFailed, "", "x").Retriable(false) || !NewError(KindTaskFailed, "", "x").Retriable(true) {
		t.Fatal("retriability wrong")
	}
}

func TestCancelTaskValidation(t *testing.T) {
	c := core.NewCodec(0)
	b, err := c.Encode(&CancelTask{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.Decode(b); err == nil {
		t.Fatalf("Decode(CancelTask of the nil task) = %+v, want an error", m)
	}
	if err := (&CancelTask{Task: core.TaskID{1}}).Validate(); err != nil {
		t.Fatalf("Validate(CancelTask) = %v", err)
	}
}

// TestBorrowerMessagesBoundTheirIDs: the borrower protocol's messages
// carry at most AddBorrowerRefsMax ids; the codec refuses more.
func TestBorrowerMessagesBoundTheirIDs(t *testing.T) {
	c := core.NewCodec(0)
	for _, n := range []int{AddBorrowerRefsMax, AddBorrowerRefsMax + 1} {
		ids := make([]core.ObjectID, n)
		for _, m := range []core.Message{&AddBorrower{IDs: ids}, &WaitRefRemoved{IDs: ids, Wait: 1}, &RefsRemoved{IDs: ids, Wait: 1}} {
			b, err := c.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Decode(b)
			if (err == nil) != (n <= AddBorrowerRefsMax) {
				t.Errorf("Decode(%T of %d ids) = %v", m, n, err)
			}
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the codec with the task protocol's
// messages registered: it must never panic, and whatever decodes must
// validate and re-encode. The seed corpus runs in every plain go test;
// run longer with
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./core/proto
func FuzzDecode(f *testing.F) {
	c := core.NewCodec(1 << 20)
	job := core.JobIDFromInt(1)
	spec := TaskSpec{TaskID: core.NewTaskID(job, core.DriverTaskID(job), 1), Function: "f", NumReturns: 1, Owner: "driver"}
	for _, m := range []core.Message{
		&CancelTask{Task: spec.TaskID, Attempt: 1, Force: true, Recursive: true},
		&CancelTask{Task: spec.TaskID},
		&PushTask{Spec: spec, LeaseID: 3},
		&KillActor{ActorID: core.ActorID{1}, Incarnation: 2},
		&LeaseCheck{LeaseID: 7},
		&PutObject{ID: core.ObjectIDForPut(spec.TaskID, 1), Owner: "driver", OwnerID: 5, OwnerNode: core.NodeID{2}, Job: job, Data: []byte{1, 2}},
		&OwnsObjects{Owner: "driver", OwnerID: 5, IDs: []core.ObjectID{core.ObjectIDForReturn(spec.TaskID, 1)}},
		&OwnsObjectsReply{NotOwned: []core.ObjectID{core.ObjectIDForReturn(spec.TaskID, 1)}},
		&WaitRefRemoved{IDs: []core.ObjectID{core.ObjectIDForReturn(spec.TaskID, 1)}, Wait: 9},
		&RefsRemoved{IDs: []core.ObjectID{core.ObjectIDForReturn(spec.TaskID, 1)}, Wait: 9},
	} {
		b, err := c.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
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
