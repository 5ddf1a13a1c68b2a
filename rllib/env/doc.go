// Package env defines reinforcement-learning environments for gray's rllib:
// the Env interface, observation and action spaces, CartPole-v1 and
// Pendulum-v1 with the dynamics of Gymnasium, and Vector, which steps N
// copies of an environment with auto-reset and per-copy deterministic
// seeding.
//
// Environments are deterministic state machines: all randomness comes from a
// math/rand/v2 PCG source seeded by Reset, so the same seed and the same
// actions give the same trajectory bit for bit.
package env
