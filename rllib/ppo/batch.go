package ppo

// Batch is a set of sampled time steps with their advantages, ready for a
// Learner. Step i's observation is Obs[i*ObsDim:(i+1)*ObsDim] and its action
// Actions[i*ActDim:(i+1)*ActDim]. A Batch is plain data (exported slices of
// numbers) so that it encodes with msgpack when runners become gray actors.
type Batch struct {
	// ObsDim and ActDim are the observation and action lengths.
	ObsDim, ActDim int
	// Obs and Actions are the observations acted on and the actions taken
	// (before any clipping by the environment), row-major.
	Obs, Actions []float64
	// Logp is the log-probability of each action under the sampling policy.
	Logp []float64
	// Values is the value estimate of each observation under the sampling
	// policy.
	Values []float64
	// Advantages are the GAE(λ) advantages and Returns the value targets
	// Advantages + Values.
	Advantages, Returns []float64
	// EpisodeReturns and EpisodeLens describe the episodes that ended during
	// sampling, in the order they ended.
	EpisodeReturns []float64
	EpisodeLens    []int
}

// Len returns the number of time steps.
func (b *Batch) Len() int { return len(b.Logp) }

// Concat returns the batches' steps and episodes one after the other, in
// argument order. It panics if their dimensions differ.
func Concat(batches ...*Batch) *Batch {
	out := &Batch{}
	for i, b := range batches {
		if i == 0 {
			out.ObsDim, out.ActDim = b.ObsDim, b.ActDim
		} else if b.ObsDim != out.ObsDim || b.ActDim != out.ActDim {
			panic("ppo: Concat: batches of different dimensions")
		}
		out.Obs = append(out.Obs, b.Obs...)
		out.Actions = append(out.Actions, b.Actions...)
		out.Logp = append(out.Logp, b.Logp...)
		out.Values = append(out.Values, b.Values...)
		out.Advantages = append(out.Advantages, b.Advantages...)
		out.Returns = append(out.Returns, b.Returns...)
		out.EpisodeReturns = append(out.EpisodeReturns, b.EpisodeReturns...)
		out.EpisodeLens = append(out.EpisodeLens, b.EpisodeLens...)
	}
	return out
}
