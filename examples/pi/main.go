// Command pi estimates π by Monte Carlo with gray tasks: each task throws
// darts at the unit square and counts those inside the quarter circle.
//
//	go run ./examples/pi -tasks 16 -samples 1000000
//
// The same program runs on a multi-process cluster (docs/operations.md):
// started with -join it is a node whose workers run pi.sample; started
// with -address (or GRAY_ADDRESS) it is a driver of that cluster.
//
//	pi -join GCS_ADDRESS -data-dir DIR -secret-file FILE   # a node
//	pi -address GCS_ADDRESS -secret-file FILE              # the driver
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"

	"github.com/grayrt/gray"
	gnet "github.com/grayrt/gray/net"
)

// sample counts, out of n random points of the unit square, those inside
// the quarter circle. It is registered at init, as every task must be.
var sample = gray.Task2("pi.sample", func(_ context.Context, seed uint64, n int) (int, error) {
	return throw(seed, n), nil
})

// sampler is the task estimate runs: sample, except in the test that
// checks that a simulated campaign catches a planted bug.
var sampler = sample

// throw throws n darts drawn from seed and counts those inside.
func throw(seed uint64, n int) int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	in := 0
	for range n {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			in++
		}
	}
	return in
}

func main() {
	tasks := flag.Int("tasks", 16, "number of tasks")
	samples := flag.Int("samples", 1_000_000, "samples per task")
	address := flag.String("address", "", "join the cluster whose GCS is at `ADDRESS` as a driver (default GRAY_ADDRESS, else an embedded cluster)")
	join := flag.String("join", "", "run as a node of the cluster whose GCS is at `ADDRESS` instead")
	dataDir := flag.String("data-dir", "", "the node's data `DIR` (with -join)")
	secretFile := flag.String("secret-file", os.Getenv("GRAY_SECRET_FILE"), "the cluster secret `FILE`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *join != "" {
		if err := serveNode(ctx, *join, *dataDir, *secretFile); err != nil {
			log.Fatal(err)
		}
		return
	}
	var opts []gray.InitOption
	if *address != "" {
		opts = append(opts, gray.WithAddress(*address))
	}
	if *secretFile != "" {
		opts = append(opts, gray.WithSecretFile(*secretFile))
	}
	pi, err := estimate(ctx, *tasks, *samples, opts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("π ≈ %.6f (%d samples in %d tasks)\n", pi, *tasks**samples, *tasks)
}

// serveNode runs this program as a node of a cluster until interrupted:
// its workers run the tasks registered above.
func serveNode(ctx context.Context, join, dataDir, secretFile string) error {
	secret, err := gnet.ReadSecretFile(secretFile)
	if err != nil {
		return err
	}
	n, err := gray.StartNode(ctx, gray.NodeOptions{Join: join, DataDir: dataDir, ClusterSecret: secret})
	if err != nil {
		return err
	}
	fmt.Println(n.Address())
	select {
	case <-ctx.Done():
		return n.Close()
	case err := <-n.Failed():
		n.Close()
		return err
	}
}

// estimate starts or joins a cluster (see gray.Init) and throws samples
// darts in each of tasks tasks, spread over the nodes.
func estimate(ctx context.Context, tasks, samples int, opts ...gray.InitOption) (float64, error) {
	rt, err := gray.Init(ctx, opts...)
	if err != nil {
		return 0, err
	}
	defer rt.Shutdown()

	refs := make([]gray.Ref[int], tasks)
	for i := range refs {
		refs[i] = sampler.Options(gray.WithSpread()).Remote(ctx, gray.V(uint64(i+1)), gray.V(samples))
	}
	counts, err := gray.GetAll(ctx, refs)
	if err != nil {
		return 0, err
	}
	in := 0
	for _, c := range counts {
		in += c
	}
	return 4 * float64(in) / float64(tasks*samples), nil
}
