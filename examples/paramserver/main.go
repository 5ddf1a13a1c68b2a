// Command paramserver trains a linear model y = w·x with a parameter
// server actor and worker tasks computing gradients on data shards
// (synchronous SGD, as in Ray's parameter server example).
//
//	go run ./examples/paramserver
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"

	"github.com/grayrt/gray"
)

const dim = 4

// trueW is the model the data is drawn from.
var trueW = []float64{1.5, -2, 0.5, 3}

// ParamServer holds the weights and applies gradients.
type ParamServer struct {
	w  []float64
	lr float64
}

// Apply averages the gradients, takes a step and returns the new weights.
func (p *ParamServer) Apply(_ context.Context, grads [][]float64) ([]float64, error) {
	for _, g := range grads {
		for i := range p.w {
			p.w[i] -= p.lr * g[i] / float64(len(grads))
		}
	}
	return p.Weights(nil)
}

// Weights returns a copy of the weights.
func (p *ParamServer) Weights(context.Context) ([]float64, error) {
	return append([]float64(nil), p.w...), nil
}

var (
	server = gray.Actor1("ps.ParamServer", func(_ context.Context, lr float64) (*ParamServer, error) {
		return &ParamServer{w: make([]float64, dim), lr: lr}, nil
	})
	apply   = gray.Method1("apply", (*ParamServer).Apply)
	weights = gray.Method0("weights", (*ParamServer).Weights)

	// gradient computes the mean squared error's gradient on a shard of
	// 256 samples drawn with seed.
	gradient = gray.Task2("ps.gradient", func(_ context.Context, w []float64, seed uint64) ([]float64, error) {
		r := rand.New(rand.NewPCG(seed, 1))
		g := make([]float64, dim)
		const n = 256
		for range n {
			x := make([]float64, dim)
			var y, pred float64
			for i := range x {
				x[i] = r.NormFloat64()
				y += trueW[i] * x[i]
				pred += w[i] * x[i]
			}
			for i := range g {
				g[i] += 2 * (pred - y) * x[i] / n
			}
		}
		return g, nil
	})
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run trains the model and writes the learned weights to out.
func run(ctx context.Context, out io.Writer) error {
	rt, err := gray.Init(ctx)
	if err != nil {
		return err
	}
	defer rt.Shutdown()

	ps, err := server.New(ctx, gray.V(0.1))
	if err != nil {
		return err
	}
	w, err := weights.Remote(ctx, ps).Get(ctx)
	if err != nil {
		return err
	}
	const workers, steps = 4, 50
	seed := uint64(0)
	for range steps {
		wref := gray.Put(ctx, w) // one copy shared by the gradient tasks
		grads := make([]gray.Ref[[]float64], workers)
		for i := range grads {
			seed++
			grads[i] = gradient.Remote(ctx, wref, gray.V(seed))
		}
		gs, err := gray.GetAll(ctx, grads)
		if err != nil {
			return err
		}
		if w, err = apply.Remote(ctx, ps, gray.V(gs)).Get(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "learned w = %.3f (true %v)\n", w, trueW)
	return nil
}
