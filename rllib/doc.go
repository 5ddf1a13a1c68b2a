// Package rllib is gray's reinforcement-learning library, a Go rebuild of
// Ray RLlib's core pieces that do not need the distributed runtime.
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
//
// Everything is deterministic given a seed: randomness comes only from
// seeded math/rand/v2 PCG sources, runner results are gathered in runner
// order, and no map iteration influences numbers. See rllib/ppo's package
// documentation for how the runners map onto gray actors later.
package rllib
