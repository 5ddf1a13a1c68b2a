// Command dag runs a task DAG whose intermediate objects are large (1
// MiB, above the 100 KiB inline limit), so they travel through the nodes'
// plasma stores rather than inline: generate → transform (×4, spread
// over the nodes) → reduce.
//
//	go run ./examples/dag
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/grayrt/gray"
)

const blockBytes = 1 << 20

var (
	generate = gray.Task1("dag.generate", func(_ context.Context, seed int) ([]byte, error) {
		b := make([]byte, blockBytes)
		for i := range b {
			b[i] = byte(seed + i)
		}
		return b, nil
	})
	transform = gray.Task2("dag.transform", func(_ context.Context, b []byte, k int) ([]byte, error) {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = c * byte(k)
		}
		return out, nil
	})
	// reduce returns the dot product of two blocks.
	reduce = gray.Task2("dag.reduce", func(_ context.Context, a, b []byte) (uint64, error) {
		var s uint64
		for i := range a {
			s += uint64(a[i]) * uint64(b[i])
		}
		return s, nil
	})
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run runs the DAG and writes the dot products to out.
func run(ctx context.Context, out io.Writer) error {
	rt, err := gray.Init(ctx, gray.WithNodes(2))
	if err != nil {
		return err
	}
	defer rt.Shutdown()

	spread := transform.Options(gray.WithSpread())
	src := generate.Remote(ctx, gray.V(7))
	var sums []gray.Ref[uint64]
	for k := 1; k <= 4; k += 2 {
		a := spread.Remote(ctx, src, gray.V(k))
		b := spread.Remote(ctx, src, gray.V(k+1))
		sums = append(sums, reduce.Remote(ctx, a, b))
	}
	vs, err := gray.GetAll(ctx, sums)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "dot products:", vs)
	return nil
}
