// Command scaletasks submits many small tasks to a cluster in batches and
// reports their throughput: the driver of scripts/scale-cluster.sh, which
// starts a loopback cluster of 20 grayd processes (docs/performance.md,
// "Scale").
//
//	GRAY_ADDRESS=… GRAY_SECRET_FILE=… go run ./examples/scaletasks -tasks 100000 -batch 2000
//
// Every result is checked. It prints one line of key=value figures: the
// tasks, the wall time, tasks/s and the driver's peak resident memory
// (VmHWM, Linux).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/grayrt/gray"
)

// add is the task: small arguments, a small result, no work, so that the
// figures measure the system rather than the task.
var add = gray.Task2("scaletasks.add", func(_ context.Context, a, b int64) (int64, error) { return a + b, nil })

func main() {
	tasks := flag.Int("tasks", 100_000, "tasks in all")
	batch := flag.Int("batch", 2_000, "tasks submitted before their results are read (then released)")
	spread := flag.Bool("spread", true, "spread the tasks over the nodes (gray.WithSpread); false leaves placement to the scheduler")
	flag.Parse()
	if *tasks < 1 || *batch < 1 {
		log.Fatalf("scaletasks: -tasks %d -batch %d, want both positive", *tasks, *batch)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// GRAY_ADDRESS and GRAY_SECRET_FILE name the cluster; a launched
	// worker of this binary never returns from Init.
	rt, err := gray.Init(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Shutdown()
	task := add.Options()
	if *spread {
		task = add.Options(gray.WithSpread())
	}
	start := time.Now()
	for done := 0; done < *tasks; {
		n := min(*batch, *tasks-done)
		refs := make([]gray.Ref[int64], n)
		for i := range refs {
			refs[i] = task.Remote(ctx, gray.V(int64(done)), gray.V(int64(i)))
		}
		got, err := gray.GetAll(ctx, refs)
		for _, r := range refs {
			r.Release()
		}
		if err != nil {
			log.Fatalf("scaletasks: batch at %d: %v", done, err)
		}
		for i, v := range got {
			if want := int64(done + i); v != want {
				log.Fatalf("scaletasks: add(%d, %d) = %d, want %d", done, i, v, want)
			}
		}
		done += n
		if done%(10**batch) == 0 || done == *tasks {
			fmt.Fprintf(os.Stderr, "scaletasks: %d/%d tasks, %.0f/s\n", done, *tasks, float64(done)/time.Since(start).Seconds())
		}
	}
	wall := time.Since(start)
	fmt.Printf("tasks=%d wall=%.2fs tasks_per_s=%.0f driver_vmhwm_kib=%d\n", *tasks, wall.Seconds(), float64(*tasks)/wall.Seconds(), vmHWM())
}

// vmHWM returns this process's peak resident memory in KiB from
// /proc/self/status, 0 where there is none.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib)
			return kib
		}
	}
	return 0
}
