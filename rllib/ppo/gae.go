package ppo

// gae computes generalised advantage estimates (Schulman et al., 2016) for
// one environment copy's trajectory of T steps and returns the advantages.
//
// rewards[t] is the reward of step t, values[t] the value of the observation
// acted on at step t, and nextValues[t] the value of what followed step t:
// 0 if step t terminated the episode, V(final observation) if it truncated
// the episode, and values[t+1] (or V of the observation after the last
// step, for t = T−1) otherwise. ended[t] says whether the episode ended at
// step t, which stops the advantage from flowing back across episodes:
//
//	δ_t = r_t + γ·next_t − V_t
//	A_t = δ_t + γλ·(1 − ended_t)·A_{t+1}
func gae(rewards, values, nextValues []float64, ended []bool, gamma, lambda float64) []float64 {
	adv := make([]float64, len(rewards))
	var next float64
	for t := len(rewards) - 1; t >= 0; t-- {
		if ended[t] {
			next = 0
		}
		delta := rewards[t] + gamma*nextValues[t] - values[t]
		next = delta + gamma*lambda*next
		adv[t] = next
	}
	return adv
}
