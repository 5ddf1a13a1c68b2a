package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/grayrt/gray/simtest"
)

func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output: dot products: [19842203648 17307795456]
}

// TestSimulated runs the program on a simulated 3-node cluster under
// swarm faults, round after round, for 200 seeds, each run twice (the runs must be identical): it runs the DAG of 1 MiB blocks (plasma objects, pulled between nodes), and must
// write exactly what it writes without faults, or fail with a documented
// error (simtest.Documented).
func TestSimulated(t *testing.T) {
	const want = "dot products: [19842203648 17307795456]\n"
	simtest.Run(t, func(ctx context.Context) error {
		var out bytes.Buffer
		if err := run(ctx, &out); err != nil {
			return err
		}
		if out.String() != want {
			return fmt.Errorf("the program wrote %q, want %q", out.String(), want)
		}
		return nil
	}, simtest.Options{Seeds: "1..200", Repeat: true, FaultPhase: simFaultPhase, CheckDeterminism: true})
}

// simFaultPhase keeps the default test run short: a few seconds of
// simulated faults already take each seed through several rounds.
const simFaultPhase = 3 * time.Second
