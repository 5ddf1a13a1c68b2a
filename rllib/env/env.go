package env

import (
	"errors"
	"fmt"
	"slices"
)

// ErrUnknown is returned by Make for an environment name it does not know.
var ErrUnknown = errors.New("env: unknown environment")

// Env is a single-agent environment with Gymnasium's step semantics.
//
// Actions are carried as []float64 for both kinds of action space: a
// discrete action is the index as a float64 in action[0]. Returned
// observations are freshly allocated and owned by the caller.
type Env interface {
	// ObservationSpace returns the space of observations.
	ObservationSpace() Space
	// ActionSpace returns the space of actions.
	ActionSpace() Space
	// Reset reseeds the environment's random source with seed, starts a new
	// episode and returns its first observation.
	Reset(seed uint64) []float64
	// Step applies action and returns the next observation, the reward,
	// whether the episode reached a terminal state (terminated) and whether
	// it was cut off by the time limit (truncated). Calling Step after the
	// episode ended without a Reset panics.
	Step(action []float64) (obs []float64, reward float64, terminated, truncated bool)
}

// constructors maps registered environment names to constructors.
var constructors = map[string]func() Env{
	"CartPole-v1": func() Env { return NewCartPole() },
	"Pendulum-v1": func() Env { return NewPendulum() },
}

// Make returns a new environment registered under name, such as
// "CartPole-v1". The error wraps ErrUnknown and lists the known names.
func Make(name string) (Env, error) {
	f, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("%q (known: %v): %w", name, Names(), ErrUnknown)
	}
	return f(), nil
}

// Names returns the registered environment names, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors { //gray:unordered sorted right after the loop
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
