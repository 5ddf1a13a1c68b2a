package core

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestTaskIDDerivationIsDeterministicAndEmbedsLineage(t *testing.T) {
	job := JobIDFromInt(7)
	driver := DriverTaskID(job)
	a := NewTaskID(job, driver, 1)
	b := NewTaskID(job, driver, 1)
	c := NewTaskID(job, driver, 2)
	if a != b {
		t.Fatalf("NewTaskID(job, driver, 1) = %v then %v, want equal", a, b)
	}
	if a == c {
		t.Fatalf("NewTaskID for counters 1 and 2 both = %v, want different", a)
	}
	if got := a.Job(); got != job {
		t.Errorf("task.Job() = %v, want %v", got, job)
	}
	if !a.Actor().IsNil() {
		t.Errorf("normal task carries actor %v, want nil actor", a.Actor())
	}
	actor := NewActorID(job, driver, 1)
	if actor.Job() != job || actor.IsNil() {
		t.Errorf("NewActorID = %v, want non-nil actor of %v", actor, job)
	}
	call := NewActorTaskID(actor, driver, 3)
	if call.Actor() != actor {
		t.Errorf("actor task's Actor() = %v, want %v", call.Actor(), actor)
	}
	if ActorCreationTaskID(actor).Actor() != actor {
		t.Errorf("creation task does not embed its actor")
	}
}

func TestObjectIDIsTaskPlusIndex(t *testing.T) {
	task := NewTaskID(JobIDFromInt(1), DriverTaskID(JobIDFromInt(1)), 9)
	ret := ObjectIDForReturn(task, 2)
	put := ObjectIDForPut(task, 2)
	if ret.Task() != task || put.Task() != task {
		t.Fatalf("object ids do not embed their task")
	}
	if ret.Index() != 2 || put.Index() != 2 {
		t.Errorf("Index() = %d, %d, want 2, 2", ret.Index(), put.Index())
	}
	if ret.IsPut() || !put.IsPut() {
		t.Errorf("IsPut() = %v, %v, want false, true", ret.IsPut(), put.IsPut())
	}
	if ret == put {
		t.Errorf("return and put ids collide: %v", ret)
	}
}

func TestRandomIDsComeOnlyFromTheGivenPRNG(t *testing.T) {
	r1 := rand.New(rand.NewPCG(1, 2))
	r2 := rand.New(rand.NewPCG(1, 2))
	if NewNodeID(r1) != NewNodeID(r2) || NewWorkerID(r1) != NewWorkerID(r2) {
		t.Fatal("ids drawn from equally seeded PRNGs differ")
	}
	if NewNodeID(r1) == NewNodeID(r1) {
		t.Fatal("two draws gave the same NodeID")
	}
}

func TestIDStringsAreReadable(t *testing.T) {
	job := JobIDFromInt(1)
	for _, s := range []string{job.String(), NewNodeID(rand.New(rand.NewPCG(3, 4))).String(), DriverTaskID(job).String()} {
		if !strings.Contains(s, ":") || strings.ContainsAny(s, " \n") {
			t.Errorf("id string %q is not of the form kind:hex", s)
		}
	}
	if got := job.String(); got != "job:00000001" {
		t.Errorf("JobID(1).String() = %q, want %q", got, "job:00000001")
	}
}

// TestWorkerTaskIDsDifferPerIncarnation: workers have no job, so the ids
// they derive from their pseudo-task (puts, actors, actor calls) are
// unique only because the pseudo-task is their incarnation's.
func TestWorkerTaskIDsDifferPerIncarnation(t *testing.T) {
	var nilJob JobID
	a, b := WorkerTaskID(nilJob, 1), WorkerTaskID(nilJob, 2)
	if a == b {
		t.Fatalf("WorkerTaskID for incarnations 1 and 2 both = %v, want different", a)
	}
	if a != WorkerTaskID(nilJob, 1) {
		t.Fatalf("WorkerTaskID(nil job, 1) is not deterministic")
	}
	if a == DriverTaskID(nilJob) {
		t.Fatalf("WorkerTaskID(nil job, 1) = DriverTaskID(nil job), want different")
	}
	if ObjectIDForPut(a, 1) == ObjectIDForPut(b, 1) {
		t.Fatalf("first puts of two incarnations share the id %v", ObjectIDForPut(a, 1))
	}
	if !a.Actor().IsNil() || a.Job() != nilJob {
		t.Errorf("WorkerTaskID carries actor %v job %v, want the nil actor of the nil job", a.Actor(), a.Job())
	}
}
