package ppo

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// smoothingEpisodes is how many recent episodes the return metrics average,
// RLlib's metrics_num_episodes_for_smoothing.
const smoothingEpisodes = 100

// Algorithm coordinates PPO training: each iteration it sends the learner's
// weights to every EnvRunner, gathers their batches in runner order,
// concatenates them and hands them to the Learner. Runners sample in
// parallel goroutines, but each owns its state and the results are gathered
// by index, so the numbers never depend on scheduling.
type Algorithm struct {
	cfg       Config
	runners   []*EnvRunner
	sampler   Sampler // nil: the local runners
	learner   *Learner
	iteration int
	timesteps int64
	episodes  int64
	recent    []float64 // Returns of the last smoothingEpisodes episodes.
}

// Metrics describe one training iteration.
type Metrics struct {
	// Iteration counts the iterations so far, this one included.
	Iteration int
	// TimestepsTotal and EpisodesTotal count sampled environment steps and
	// finished episodes so far.
	TimestepsTotal, EpisodesTotal int64
	// EpisodesThisIter is the number of episodes that ended in this
	// iteration's sampling.
	EpisodesThisIter int
	// EpisodeReturnMean and EpisodeReturnMax are over the last 100 finished
	// episodes, which may reach back into earlier iterations; both are 0
	// before the first episode ends.
	EpisodeReturnMean, EpisodeReturnMax float64
	// Learner holds the loss terms of the update.
	Learner LearnerMetrics
	// EnvStepsPerSec is this iteration's sampling throughput over all
	// runners.
	EnvStepsPerSec float64
	// SampleTime and LearnTime are the wall times of sampling and updating.
	SampleTime, LearnTime time.Duration
}

// New returns an Algorithm for cfg with EnvRunners local runners.
func New(cfg Config) (*Algorithm, error) {
	cfg.Hidden = slices.Clone(cfg.Hidden)
	l, err := NewLearner(cfg)
	if err != nil {
		return nil, err
	}
	a := &Algorithm{cfg: cfg, learner: l}
	for i := range cfg.EnvRunners {
		r, err := NewEnvRunner(cfg, i)
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, r)
	}
	return a, nil
}

// Sampler collects one iteration's batches for given weights, one batch per
// runner in runner order. Distributed runners (package rllib/distributed,
// env runners as gray actors) implement it; nil means local runners.
type Sampler interface {
	Sample(weights []byte) ([]*Batch, error)
}

// NewWithSampler returns an Algorithm for cfg whose batches come from s
// (with cfg.EnvRunners runners); training, checkpoints and evaluation work
// exactly as with local runners.
func NewWithSampler(cfg Config, s Sampler) (*Algorithm, error) {
	cfg.Hidden = slices.Clone(cfg.Hidden)
	l, err := NewLearner(cfg)
	if err != nil {
		return nil, err
	}
	return &Algorithm{cfg: cfg, learner: l, sampler: s}, nil
}

// StepsPerRunner is how many steps each of cfg.EnvRunners runners samples
// per iteration.
func StepsPerRunner(cfg Config) int { return cfg.stepsPerRunner() }

// Config returns the algorithm's configuration.
func (a *Algorithm) Config() Config {
	c := a.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// Weights returns the serialised current parameters of the learner.
func (a *Algorithm) Weights() []byte { return a.learner.Weights() }

// Iteration returns the number of completed training iterations.
func (a *Algorithm) Iteration() int { return a.iteration }

// sample has every runner sample stepsPerRunner steps with weights and
// returns their batches in runner order.
func (a *Algorithm) sample(weights []byte) ([]*Batch, error) {
	if a.sampler != nil {
		return a.sampler.Sample(weights)
	}
	batches := make([]*Batch, len(a.runners))
	errs := make([]error, len(a.runners))
	steps := a.cfg.stepsPerRunner()
	var wg sync.WaitGroup
	for i, r := range a.runners {
		wg.Go(func() { batches[i], errs[i] = r.Sample(weights, steps) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("ppo: sampling on runner %d: %w", i, err)
		}
	}
	return batches, nil
}

// Train runs one iteration: sample TrainBatchSize steps, update the learner
// and report the metrics.
func (a *Algorithm) Train() (Metrics, error) {
	t0 := time.Now()
	batches, err := a.sample(a.learner.Weights())
	if err != nil {
		return Metrics{}, err
	}
	b := Concat(batches...)
	t1 := time.Now()
	_, lm, err := a.learner.Update(b)
	if err != nil {
		return Metrics{}, err
	}
	t2 := time.Now()

	a.iteration++
	a.timesteps += int64(b.Len())
	a.episodes += int64(len(b.EpisodeReturns))
	a.recent = append(a.recent, b.EpisodeReturns...)
	if k := len(a.recent) - smoothingEpisodes; k > 0 {
		a.recent = slices.Delete(a.recent, 0, k)
	}
	m := Metrics{
		Iteration:        a.iteration,
		TimestepsTotal:   a.timesteps,
		EpisodesTotal:    a.episodes,
		EpisodesThisIter: len(b.EpisodeReturns),
		Learner:          lm,
		SampleTime:       t1.Sub(t0),
		LearnTime:        t2.Sub(t1),
	}
	if len(a.recent) > 0 {
		var sum float64
		for _, r := range a.recent {
			sum += r
		}
		m.EpisodeReturnMean = sum / float64(len(a.recent))
		m.EpisodeReturnMax = slices.Max(a.recent)
	}
	if s := m.SampleTime.Seconds(); s > 0 {
		m.EnvStepsPerSec = float64(b.Len()) / s
	}
	return m, nil
}
