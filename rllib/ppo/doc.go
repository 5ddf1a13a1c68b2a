// Package ppo implements Proximal Policy Optimization (Schulman et al.,
// 2017) for gray's rllib, structured like RLlib's new API stack: EnvRunners
// sample, a Learner updates, and an Algorithm coordinates them.
//
// # Training from Go
//
//	cfg := ppo.DefaultConfig() // CartPole-v1, 2 runners × 4 envs, 64×64.
//	algo, err := ppo.New(cfg)
//	if err != nil { ... }
//	for {
//		m, err := algo.Train()
//		if err != nil { ... }
//		if m.EpisodeReturnMean >= 450 { break }
//	}
//	res, err := algo.Evaluate(10) // Greedy actions.
//	err = algo.Save("cartpole.ckpt")
//
// # The algorithm
//
// Each Train iteration serialises the learner's weights once, has every
// EnvRunner sample TrainBatchSize/EnvRunners steps with them (stochastic
// actions from the categorical or Gaussian policy), and concatenates the
// batches in runner order. Each runner computes GAE(λ) advantages with the
// values of the sampling policy, bootstrapping from V(final observation)
// when the time limit truncates an episode and from 0 when it terminates.
// The Learner then runs Epochs passes of minibatch SGD with Adam over the
// clipped surrogate objective, the (optionally clipped) value loss and the
// entropy bonus, normalising advantages per minibatch and clipping the
// global gradient norm. The policy and value networks are separate MLPs with
// tanh hidden layers; their gradients are written out by hand and checked
// against finite differences in the tests.
//
// # Determinism
//
// Every random number comes from a math/rand/v2 PCG stream of Config.Seed:
// one per runner (actions and environment seeds), one for the learner
// (initial weights and minibatch shuffling) and one for evaluation. Runners
// sample in parallel goroutines but own disjoint state, and their batches
// are gathered by runner index, so a seed and a number of runners determine
// the weights bit for bit. Changing EnvRunners or EnvsPerRunner changes the
// run.
//
// # Distributed mapping
//
// The boundary between the Algorithm and its runners is already the one
// gray actors need: a runner's constructor takes only (Config, index), its
// Sample takes serialised weights ([]byte from Model.Weights) and a step
// count and returns a Batch of plain numbers. Once the runtime is ready:
//
//  1. each EnvRunner becomes a gray actor created with (Config, index), so
//     its random streams are the same as in the local run;
//  2. each iteration the driver Puts the weights into the object store once
//     and passes the same ObjectRef to every runner's Sample, instead of
//     copying the bytes per runner;
//  3. the driver waits for the batch refs in runner order (not completion
//     order) and gets them, so results stay independent of scheduling;
//  4. the Learner may itself become an actor (Update takes a Batch and
//     returns weights bytes); checkpoints stay on the driver side;
//  5. a runner that dies (actor failure) is restarted or replaced by a new
//     actor with the same index, and the iteration's sample is retried on
//     it. A replacement starts fresh episodes, so a run with a failure is
//     not bit-identical to one without; the lost steps are resampled, never
//     silently dropped.
package ppo
