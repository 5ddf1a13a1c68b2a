package proto

import (
	"errors"
	"testing"

	"github.com/grayrt/gray/core"
)

func TestEveryMessageRoundTrips(t *testing.T) {
	c := core.NewCodec(0)
	spec := TaskSpec{TaskID: core.NewTaskID(core.JobIDFromInt(1), core.DriverTaskID(core.JobIDFromInt(1)), 1), Function: "f", NumReturns: 1, Owner: "driver", Args: []Arg{{Value: []byte{1}}, {Ref: &ObjectRef{ID: core.ObjectID{1}, Owner: "w"}}}}
	for _, m := range []core.Message{&RequestLease{Spec: spec, LeaseID: 3}, &PushTask{Spec: spec}, &PushTaskReply{Error: NewError(KindWorkerDied, "f", "boom")}, &ChunkReply{Size: 9, Data: []byte("abc")},
		&ActorPing{ActorID: core.ActorID{1}, Incarnation: 2}, &LeaseCheck{LeaseID: 7}, &LeaseCheckReply{Held: true},
		&KillActor{ActorID: core.ActorID{1}, Incarnation: 3, NoRestart: true}} {
		b, err := c.Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		if _, err := c.Decode(b); err != nil {
			t.Fatalf("decode %T: %v", m, err)
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
