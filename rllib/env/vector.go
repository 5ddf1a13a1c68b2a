package env

import (
	"fmt"
	"math/rand/v2"
)

// Vector steps N copies of an environment in lockstep and resets each copy
// automatically when its episode ends, like Gymnasium's SyncVectorEnv with
// same-step auto-reset.
//
// Seeding is deterministic per copy: Reset(seed) gives copy i its own PCG
// stream (seed, i), and every reset of copy i, the first and the automatic
// ones, draws its environment seed from that stream. Copies therefore never
// share episodes and the whole vector replays bit for bit from one seed.
type Vector struct {
	envs    []Env
	seeds   []*rand.Rand
	obs     [][]float64
	returns []float64
	lengths []int
}

// StepResult is what Vector.Step returns for every copy i.
//
// All slices are freshly allocated and owned by the caller.
type StepResult struct {
	// Obs[i] is the observation to act on next: the reset observation of a
	// new episode if copy i's episode ended on this step.
	Obs [][]float64
	// Reward[i] is the reward of this step.
	Reward []float64
	// Terminated[i] and Truncated[i] say how copy i's episode ended, if it
	// did.
	Terminated, Truncated []bool
	// FinalObs[i] is the last observation of the episode that ended on this
	// step (for bootstrapping truncated episodes), or nil.
	FinalObs [][]float64
	// EpisodeReturn[i] and EpisodeLen[i] are the undiscounted return and the
	// length of the episode that ended on this step; zero if none did.
	EpisodeReturn []float64
	EpisodeLen    []int
}

// NewVector returns a Vector of n copies built by newEnv. It panics if n < 1.
func NewVector(newEnv func() Env, n int) *Vector {
	if n < 1 {
		panic(fmt.Sprintf("env: NewVector: n = %d, want positive", n))
	}
	v := &Vector{
		envs:    make([]Env, n),
		seeds:   make([]*rand.Rand, n),
		obs:     make([][]float64, n),
		returns: make([]float64, n),
		lengths: make([]int, n),
	}
	for i := range v.envs {
		v.envs[i] = newEnv()
	}
	return v
}

// MakeVector returns a Vector of n copies of the environment registered
// under name.
func MakeVector(name string, n int) (*Vector, error) {
	if _, err := Make(name); err != nil {
		return nil, err
	}
	return NewVector(func() Env {
		e, _ := Make(name) // Checked above.
		return e
	}, n), nil
}

// Len returns the number of copies.
func (v *Vector) Len() int { return len(v.envs) }

// ObservationSpace returns the observation space of one copy.
func (v *Vector) ObservationSpace() Space { return v.envs[0].ObservationSpace() }

// ActionSpace returns the action space of one copy.
func (v *Vector) ActionSpace() Space { return v.envs[0].ActionSpace() }

// Reset reseeds every copy from seed, starts new episodes and returns their
// first observations, owned by the caller.
func (v *Vector) Reset(seed uint64) [][]float64 {
	for i, e := range v.envs {
		v.seeds[i] = rand.New(rand.NewPCG(seed, uint64(i)))
		v.obs[i] = e.Reset(v.seeds[i].Uint64())
		v.returns[i], v.lengths[i] = 0, 0
	}
	return v.Obs()
}

// Obs returns copies of the current observations, the ones to act on next.
func (v *Vector) Obs() [][]float64 {
	out := make([][]float64, len(v.obs))
	for i, o := range v.obs {
		out[i] = append([]float64(nil), o...)
	}
	return out
}

// Step applies actions[i] to copy i, resets the copies whose episodes ended
// and returns the results. It panics if Reset was never called or
// len(actions) != Len().
func (v *Vector) Step(actions [][]float64) StepResult {
	n := len(v.envs)
	if len(actions) != n {
		panic(fmt.Sprintf("env: Vector.Step: %d actions for %d copies", len(actions), n))
	}
	if v.seeds[0] == nil {
		panic("env: Vector.Step before Reset")
	}
	r := StepResult{
		Obs:           make([][]float64, n),
		Reward:        make([]float64, n),
		Terminated:    make([]bool, n),
		Truncated:     make([]bool, n),
		FinalObs:      make([][]float64, n),
		EpisodeReturn: make([]float64, n),
		EpisodeLen:    make([]int, n),
	}
	for i, e := range v.envs {
		obs, rew, term, trunc := e.Step(actions[i])
		r.Reward[i], r.Terminated[i], r.Truncated[i] = rew, term, trunc
		v.returns[i] += rew
		v.lengths[i]++
		if term || trunc {
			r.FinalObs[i] = obs
			r.EpisodeReturn[i], r.EpisodeLen[i] = v.returns[i], v.lengths[i]
			v.returns[i], v.lengths[i] = 0, 0
			obs = e.Reset(v.seeds[i].Uint64())
		}
		v.obs[i] = obs
		r.Obs[i] = append([]float64(nil), obs...)
	}
	return r
}
