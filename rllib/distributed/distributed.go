// Package distributed runs PPO's EnvRunners as gray actors, the way RLlib's
// EnvRunnerGroup does with Ray actors.
//
// Each runner is an actor of class "rllib.distributed.EnvRunner" wrapping a
// ppo.EnvRunner; its constructor takes the PPO config and the runner index.
// Every iteration the Algorithm puts the learner's serialised weights into
// the object store once with gray.Put and passes the same Ref to every
// runner's Sample call; the runners' batches (ppo.Batch is plain exported
// data, so it travels as msgpack) are gathered in runner order and handed
// to a ppo.Learner, so a run is deterministic for a seed and runner count.
//
// Fault tolerance follows RLlib's FaultTolerantActorManager: when a Sample
// call fails with a system error (the actor, its worker or its node died),
// the runner is recreated under the same index and its sample retried, up
// to Options.MaxRestarts times per runner and iteration. A recreated runner
// starts fresh episodes from its index's seed stream, so a run with a
// failure is not bit-identical to one without.
//
// gray.Init must have been called before New.
package distributed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/rllib/ppo"
)

// RunnerSpec is the constructor argument of a runner actor.
type RunnerSpec struct {
	Config ppo.Config
	Index  int
}

// runner is the actor's Go type.
type runner struct {
	r     *ppo.EnvRunner
	steps int
}

// Sample loads weights and samples the runner's share of the train batch.
func (r *runner) Sample(_ context.Context, weights []byte) (*ppo.Batch, error) {
	return r.r.Sample(weights, r.steps)
}

var (
	runnerClass = gray.Actor1("rllib.distributed.EnvRunner", func(_ context.Context, s RunnerSpec) (*runner, error) {
		r, err := ppo.NewEnvRunner(s.Config, s.Index)
		if err != nil {
			return nil, err
		}
		return &runner{r: r, steps: StepsPerRunner(s.Config)}, nil
	})
	sampleMethod = gray.Method1("sample", (*runner).Sample)
)

// StepsPerRunner returns how many steps each runner samples per iteration
// (TrainBatchSize split over the runners, as ppo.Algorithm does).
func StepsPerRunner(c ppo.Config) int { return ppo.StepsPerRunner(c) }

// Options tune fault tolerance.
type Options struct {
	// MaxRestarts bounds how often one runner is recreated within one
	// iteration before Train gives up; default 3.
	MaxRestarts int
}

// Algorithm is PPO with its EnvRunners as gray actors and the Learner in
// the calling process. It is a ppo.Algorithm whose sampler is the runner
// actors, so training, checkpoints (Save, Restore) and Evaluate behave
// exactly as with local runners.
type Algorithm struct {
	cfg      ppo.Config
	opts     Options
	algo     *ppo.Algorithm
	runners  []*gray.ActorHandle[runner]
	restarts int
	// ctx and iterRestarts belong to the Train call in progress.
	ctx          context.Context
	iterRestarts int
}

// Metrics describe one iteration; Restarts counts the runners recreated
// during it.
type Metrics struct {
	ppo.Metrics
	Restarts int
}

// New creates the learner and cfg.EnvRunners runner actors.
func New(ctx context.Context, cfg ppo.Config, opts Options) (*Algorithm, error) {
	cfg.Hidden = slices.Clone(cfg.Hidden)
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 3
	}
	a := &Algorithm{cfg: cfg, opts: opts, runners: make([]*gray.ActorHandle[runner], cfg.EnvRunners)}
	algo, err := ppo.NewWithSampler(cfg, a)
	if err != nil {
		return nil, err
	}
	a.algo = algo
	for i := range a.runners {
		if a.runners[i], err = a.newRunner(ctx, i); err != nil {
			a.Close(ctx)
			return nil, err
		}
	}
	return a, nil
}

func (a *Algorithm) newRunner(ctx context.Context, i int) (*gray.ActorHandle[runner], error) {
	h, err := runnerClass.New(ctx, gray.V(RunnerSpec{Config: a.cfg, Index: i}))
	if err != nil {
		return nil, fmt.Errorf("distributed: creating runner %d: %w", i, err)
	}
	return h, nil
}

// KillRunner kills runner i's actor without restart, as a fault would.
func (a *Algorithm) KillRunner(ctx context.Context, i int) error {
	return a.runners[i].Kill(ctx, true)
}

// RestartsTotal returns how many runners were recreated so far.
func (a *Algorithm) RestartsTotal() int { return a.restarts }

// Weights returns the learner's serialised parameters.
func (a *Algorithm) Weights() []byte { return a.algo.Weights() }

// Iteration returns the number of completed iterations.
func (a *Algorithm) Iteration() int { return a.algo.Iteration() }

// Save writes a checkpoint (see ppo.Algorithm.Save).
func (a *Algorithm) Save(path string) error { return a.algo.Save(path) }

// Restore loads a checkpoint written by Save, by this or a local
// ppo.Algorithm (see ppo.Algorithm.Restore).
func (a *Algorithm) Restore(path string) error { return a.algo.Restore(path) }

// Evaluate plays greedy episodes in the calling process.
func (a *Algorithm) Evaluate(episodes int) (ppo.EvalResult, error) { return a.algo.Evaluate(episodes) }

// Close kills every runner actor.
func (a *Algorithm) Close(ctx context.Context) {
	for _, r := range a.runners {
		if r != nil {
			_ = r.Kill(ctx, true)
		}
	}
}

// isSystemError reports whether err means the runner is gone (rather than
// a bug in sampling, which a restart would not fix).
func isSystemError(err error) bool {
	return errors.Is(err, gray.ErrActorDied) || errors.Is(err, gray.ErrWorkerDied) ||
		errors.Is(err, gray.ErrNodeDied) || errors.Is(err, gray.ErrObjectLost) ||
		errors.Is(err, gray.ErrOwnerDied)
}

// sample runs every runner's Sample with the weights ref and returns the
// batches in runner order, recreating runners that died.
func (a *Algorithm) sample(ctx context.Context, w gray.Ref[[]byte]) ([]*ppo.Batch, int, error) {
	batches := make([]*ppo.Batch, len(a.runners))
	errs := make([]error, len(a.runners))
	restarts := make([]int, len(a.runners))
	var wg sync.WaitGroup
	for i := range a.runners {
		wg.Go(func() {
			for {
				b, err := sampleMethod.Remote(ctx, a.runners[i], w).Get(ctx)
				if err == nil {
					batches[i] = b
					return
				}
				if !isSystemError(err) || restarts[i] >= a.opts.MaxRestarts || ctx.Err() != nil {
					errs[i] = fmt.Errorf("distributed: sampling on runner %d: %w", i, err)
					return
				}
				restarts[i]++
				_ = a.runners[i].Kill(ctx, true) // It may still be alive after another system error.
				h, err := a.newRunner(ctx, i)
				if err != nil {
					errs[i] = err
					return
				}
				a.runners[i] = h
			}
		})
	}
	wg.Wait()
	n := 0
	for _, r := range restarts {
		n += r
	}
	return batches, n, errors.Join(errs...)
}

// Train runs one iteration: put the weights once, sample on every runner
// (recreating runners that died), update the learner, and report the
// metrics.
func (a *Algorithm) Train(ctx context.Context) (Metrics, error) {
	a.ctx, a.iterRestarts = ctx, 0
	m, err := a.algo.Train()
	return Metrics{Metrics: m, Restarts: a.iterRestarts}, err
}

// Sample implements ppo.Sampler: one Put of the weights, the same ref to
// every runner, batches in runner order.
func (a *Algorithm) Sample(weights []byte) ([]*ppo.Batch, error) {
	w := gray.Put(a.ctx, weights)
	defer w.Release()
	batches, restarts, err := a.sample(a.ctx, w)
	a.iterRestarts += restarts
	a.restarts += restarts
	return batches, err
}
