package proto

import (
	"testing"

	"github.com/grayrt/gray/core"
)

// typicalSpec is the spec of a small task as a driver submits it: two
// inline arguments, one return, one CPU.
func typicalSpec() TaskSpec {
	job := core.JobIDFromInt(1)
	return TaskSpec{
		TaskID:     core.NewTaskID(job, core.DriverTaskID(job), 7),
		Job:        job,
		Function:   "add",
		Args:       []Arg{{Value: []byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 1}}, {Value: []byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 2}}},
		NumReturns: 1,
		Resources:  core.MustResources(core.CPU, 1),
		MaxRetries: 3,
		Owner:      "node-1#driver",
		OwnerID:    0x1234_5678_9abc,
	}
}

// hotMessages are the messages of one task's life, as typical values:
// lease request and grant, push and reply, lease return.
func hotMessages() []core.Message {
	spec := typicalSpec()
	node, worker := core.NodeID{9, 1}, core.WorkerID{5, 2}
	return []core.Message{
		&RequestLease{Spec: spec, LeaseID: 42},
		&LeaseReply{Granted: true, Worker: "node-1#w3", WorkerID: worker, Node: node},
		&PushTask{Spec: spec, LeaseID: 42, Node: node, Worker: worker},
		&PushTaskReply{Returns: []ReturnObject{{ID: core.ObjectIDForReturn(spec.TaskID, 1), Inline: []byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 3}}}, Node: node, Worker: worker},
		&ReturnLease{LeaseID: 42, Owner: "node-1#driver"},
	}
}

// BenchmarkCodecHot encodes and decodes each message of a task's life
// through a core.Codec, as the rpc layer does (Size, then Append, then
// Decode). Compare runs with benchstat:
//
//	go test -run '^$' -bench CodecHot -benchmem -count 10 ./core/proto
func BenchmarkCodecHot(b *testing.B) {
	for _, m := range hotMessages() {
		b.Run(core.MessageName(m.MsgType()), func(b *testing.B) {
			c := core.NewCodec(0)
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Size(m); err != nil {
					b.Fatal(err)
				}
				var err error
				if buf, err = c.Append(buf[:0], m); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
