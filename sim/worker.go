package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

// A seed worker is a child process that runs seeds for an isolated
// campaign (Campaign.Isolate). The protocol is one JSON object per line:
//
//   - the worker writes workerMarker and a workerReply with Hello set to
//     workerProtocol when it is ready;
//   - the parent writes a seedRequest on the worker's stdin;
//   - the worker runs that seed (twice with CheckDeterminism) and writes
//     workerMarker and a workerReply with its Result and attachments;
//   - and so on, one seed at a time, until the parent closes stdin.
//
// The marker lets the parent tell replies from anything else a workload
// prints on stdout, which it keeps with the worker's stderr.

// workerProtocol is the version of the protocol; a worker that says
// another is refused.
const workerProtocol = 1

// workerMarker starts every line of the protocol on a worker's stdout.
const workerMarker = "@gray-seed-worker "

// seedRequest asks a worker to run one seed of a campaign.
type seedRequest struct {
	Workload         string        `json:"workload"`
	Options          Options       `json:"options"`
	FaultSpec        string        `json:"fault_spec"`
	FaultPhase       time.Duration `json:"fault_phase_ns"`
	Seed             uint64        `json:"seed"`
	CheckDeterminism bool          `json:"check_determinism"`
}

// workerReply is one line of a worker: its greeting or a seed's result.
type workerReply struct {
	Hello  int     `json:"hello,omitempty"`
	Result *Result `json:"result,omitempty"`
	// Attachments travel beside the Result, whose JSON form leaves them
	// out.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// campaign is the campaign a request is one seed of.
func (q seedRequest) campaign() Campaign {
	return Campaign{Workload: q.Workload, Options: q.Options, FaultSpec: q.FaultSpec, FaultPhase: q.FaultPhase, CheckDeterminism: q.CheckDeterminism}
}

// ServeSeeds is the body of a seed worker: it reads seed requests from in,
// runs each with the registered workloads (NewWorkload), exactly as an
// in-process campaign would, and writes each result to out. It returns nil
// when in ends, and an error for a request it cannot read or a result it
// cannot write.
//
// A program acts as a seed worker when the Isolation.Command that starts
// it makes it call ServeSeeds(os.Stdin, os.Stdout): `gray sim serve-seeds`
// does, and so does any binary whose main or TestMain calls
// ServeSeedsIfWorker first (see SelfIsolation). The workloads the campaign
// names must be registered in that program too. A workload that prints on
// stdout does not disturb the protocol, whose lines carry a marker.
func ServeSeeds(in io.Reader, out io.Writer) error {
	w := bufio.NewWriter(out)
	write := func(rep workerReply) error {
		b, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("sim: seed worker: encoding a reply: %w", err)
		}
		w.WriteString(workerMarker)
		w.Write(b)
		w.WriteByte('\n')
		return w.Flush()
	}
	if err := write(workerReply{Hello: workerProtocol}); err != nil {
		return err
	}
	dec := json.NewDecoder(in)
	for {
		var q seedRequest
		if err := dec.Decode(&q); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("sim: seed worker: reading a request: %w", err)
		}
		r := q.campaign().runSeed(q.Seed)
		if err := write(workerReply{Result: &r, Attachments: r.Attachments}); err != nil {
			return err
		}
	}
}

// SeedWorkerEnv is the environment variable with which SelfIsolation
// starts the running binary as a seed worker; ServeSeedsIfWorker looks for
// it.
const SeedWorkerEnv = "GRAY_SIM_SEED_WORKER"

// ServeSeedsIfWorker makes the running binary a seed worker if it was
// started as one by SelfIsolation (SeedWorkerEnv is "1"): it serves seeds
// on stdin and stdout and exits the process. Otherwise it returns at once.
//
// Call it first thing in main, or in TestMain for a test binary that runs
// isolated campaigns, after the workloads are registered (init functions
// of the package and its tests run before TestMain):
//
//	func TestMain(m *testing.M) {
//		sim.ServeSeedsIfWorker()
//		os.Exit(m.Run())
//	}
//
// A worker ignores interrupts: a Ctrl-C on a terminal reaches the whole
// process group, and it is the parent campaign that decides to stop (it
// lets running seeds finish, then closes the workers' stdin).
func ServeSeedsIfWorker() {
	if os.Getenv(SeedWorkerEnv) != "1" {
		return
	}
	signal.Ignore(os.Interrupt)
	if err := ServeSeeds(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// SelfIsolation returns an Isolation that starts the running binary again,
// without arguments and with SeedWorkerEnv=1, as its seed workers: the
// binary must call ServeSeedsIfWorker first thing. The limits are the
// defaults; set them on the result.
func SelfIsolation() (*Isolation, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sim: finding the running binary to start seed workers: %w", err)
	}
	return &Isolation{Command: []string{exe}, Env: []string{SeedWorkerEnv + "=1"}}, nil
}
