// Package rllib is gray's reinforcement-learning library, a Go rebuild of
// Ray RLlib's core pieces.
//
// The library is split into sub-packages, each with one purpose:
//
//   - rllib/env holds the environment interface, the spaces, the
//     classic-control environments (CartPole-v1 and Pendulum-v1 with
//     Gymnasium's exact dynamics) and vectorised environments with
//     auto-reset.
//   - rllib/nn holds multilayer perceptrons over gonum matrices with manual
//     backpropagation and the Adam optimiser; all parameters of a model live
//     in one flat []float64 so that optimisers, gradient clipping and
//     serialisation work on plain vectors.
//   - rllib/ppo holds the PPO algorithm: the actor-critic policy, GAE, the
//     clipped surrogate loss, the EnvRunner (sampling), the Learner
//     (updating), the Algorithm that coordinates them, checkpoints and
//     evaluation.
//   - rllib/distributed runs the EnvRunners as gray actors: one Put of the
//     weights per iteration, the same ref to every runner, batches gathered
//     in runner order, and dead runners replaced and their sample retried
//     (RLlib's fault-tolerant actor manager). `gray rllib train` drives it.
//
// Everything is deterministic given a seed: randomness comes only from
// seeded math/rand/v2 PCG sources, runner results are gathered in runner
// order, and no map iteration influences numbers.
package rllib
