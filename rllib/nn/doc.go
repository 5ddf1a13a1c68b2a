// Package nn holds the small neural-network toolkit of gray's rllib:
// multilayer perceptrons with tanh hidden layers over gonum matrices, manual
// backpropagation, the Adam optimiser and gradient-norm clipping.
//
// gonum has no automatic differentiation, so every layer's backward pass is
// written out by hand and the package's tests check it against central
// finite differences.
//
// All parameters of a model live in one flat []float64 owned by the caller,
// and an MLP's weight matrices are gonum views into it. Optimisers, gradient
// clipping and serialisation therefore work on plain vectors, and several
// networks (a policy and a value function) can share one parameter vector.
package nn
