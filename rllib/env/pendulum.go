package env

import (
	"math"
	"math/rand/v2"
)

// Pendulum constants, exactly those of Gymnasium's PendulumEnv (g = 10).
const (
	pendulumSpeedMax  = 8.0
	pendulumTorqueMax = 2.0
	pendulumDt        = 0.05
	pendulumG         = 10.0
	pendulumM         = 1.0
	pendulumL         = 1.0
	pendulumStepsMax  = 200 // The TimeLimit of Pendulum-v1.
)

// Pendulum is Gymnasium's Pendulum-v1: a torque-limited pendulum to swing up
// and balance. The observation is (cos θ, sin θ, θ̇), the action a torque in
// [-2, 2] (clipped), the reward −(θ̂² + 0.1·θ̇² + 0.001·u²) with θ̂ the angle
// normalised to [−π, π). Episodes never terminate and are truncated after
// 200 steps.
type Pendulum struct {
	theta, thetaDot float64
	steps           int
	done            bool
	rng             *rand.Rand
	obsSpace        Space
	actionSpace     Space
}

// NewPendulum returns a Pendulum that must be Reset before stepping.
func NewPendulum() *Pendulum {
	return &Pendulum{
		done:        true,
		obsSpace:    Box([]float64{-1, -1, -pendulumSpeedMax}, []float64{1, 1, pendulumSpeedMax}),
		actionSpace: Box([]float64{-pendulumTorqueMax}, []float64{pendulumTorqueMax}),
	}
}

// ObservationSpace returns the box of (cos θ, sin θ, θ̇).
func (p *Pendulum) ObservationSpace() Space { return p.obsSpace }

// ActionSpace returns the box [-2, 2] of torques.
func (p *Pendulum) ActionSpace() Space { return p.actionSpace }

// Reset seeds the environment and draws θ uniformly from [−π, π) and θ̇ from
// [−1, 1).
func (p *Pendulum) Reset(seed uint64) []float64 {
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p.theta = -math.Pi + 2*math.Pi*p.rng.Float64()
	p.thetaDot = -1 + 2*p.rng.Float64()
	p.steps = 0
	p.done = false
	return p.obs()
}

// SetState overrides (θ, θ̇) of a running episode; tests use it to check
// single steps against hand-computed values.
func (p *Pendulum) SetState(theta, thetaDot float64) { p.theta, p.thetaDot = theta, thetaDot }

func (p *Pendulum) obs() []float64 {
	return []float64{math.Cos(p.theta), math.Sin(p.theta), p.thetaDot}
}

// Step applies the torque action[0], clipped to [-2, 2], for 0.05 s.
func (p *Pendulum) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	if p.done {
		panic("env: Pendulum.Step called on a finished episode; call Reset")
	}
	if len(action) != 1 {
		panic("env: Pendulum.Step: action must have length 1")
	}
	u := min(max(action[0], -pendulumTorqueMax), pendulumTorqueMax)
	th, thDot := p.theta, p.thetaDot
	an := angleNormalize(th)
	cost := an*an + 0.1*thDot*thDot + 0.001*u*u
	newThDot := thDot + (3*pendulumG/(2*pendulumL)*math.Sin(th)+3.0/(pendulumM*pendulumL*pendulumL)*u)*pendulumDt
	newThDot = min(max(newThDot, -pendulumSpeedMax), pendulumSpeedMax)
	p.theta = th + newThDot*pendulumDt
	p.thetaDot = newThDot
	p.steps++
	truncated = p.steps >= pendulumStepsMax
	p.done = truncated
	return p.obs(), -cost, false, truncated
}

// angleNormalize maps x to [−π, π) like Gymnasium's angle_normalize, whose %
// is Python's floored modulo.
func angleNormalize(x float64) float64 {
	m := math.Mod(x+math.Pi, 2*math.Pi)
	if m < 0 {
		m += 2 * math.Pi
	}
	return m - math.Pi
}
