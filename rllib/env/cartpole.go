package env

import (
	"math"
	"math/rand/v2"
)

// CartPole constants, exactly those of Gymnasium's CartPoleEnv.
const (
	cartPoleGravity     = 9.8
	cartPoleMassCart    = 1.0
	cartPoleMassPole    = 0.1
	cartPoleTotalMass   = cartPoleMassPole + cartPoleMassCart
	cartPoleLength      = 0.5 // Half the pole's length.
	cartPolePoleMassLen = cartPoleMassPole * cartPoleLength
	cartPoleForceMag    = 10.0
	cartPoleTau         = 0.02 // Seconds between state updates.
	cartPoleXThreshold  = 2.4
	cartPoleStepsMax    = 500 // The TimeLimit of CartPole-v1.
	cartPoleResetBound  = 0.05
)

// CartPoleThetaThreshold is the pole angle in radians beyond which a
// CartPole episode terminates: 12 degrees.
const CartPoleThetaThreshold = 12 * 2 * math.Pi / 360

// CartPole is Gymnasium's CartPole-v1: a pole on a cart that is pushed left
// (action 0) or right (action 1) by a force of 10 N. The observation is
// (x, ẋ, θ, θ̇), the reward 1 per step including the terminating one, the
// episode terminates when |x| > 2.4 or |θ| > 12° and is truncated after 500
// steps. The dynamics use Gymnasium's default explicit Euler integration.
type CartPole struct {
	state       [4]float64
	steps       int
	done        bool
	rng         *rand.Rand
	obsSpace    Space
	actionSpace Space
}

// NewCartPole returns a CartPole that must be Reset before stepping.
func NewCartPole() *CartPole {
	high := []float64{2 * cartPoleXThreshold, math.Inf(1), 2 * CartPoleThetaThreshold, math.Inf(1)}
	low := make([]float64, len(high))
	for i, h := range high {
		low[i] = -h
	}
	return &CartPole{
		done:        true,
		obsSpace:    Box(low, high),
		actionSpace: Discrete(2),
	}
}

// ObservationSpace returns the box of (x, ẋ, θ, θ̇).
func (c *CartPole) ObservationSpace() Space { return c.obsSpace }

// ActionSpace returns Discrete(2).
func (c *CartPole) ActionSpace() Space { return c.actionSpace }

// Reset seeds the environment and draws each state variable uniformly from
// [-0.05, 0.05).
func (c *CartPole) Reset(seed uint64) []float64 {
	c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range c.state {
		c.state[i] = -cartPoleResetBound + 2*cartPoleResetBound*c.rng.Float64()
	}
	c.steps = 0
	c.done = false
	return c.State()
}

// SetState overrides the state (x, ẋ, θ, θ̇) of a running episode; tests use
// it to check single steps against hand-computed values.
func (c *CartPole) SetState(s [4]float64) { c.state = s }

// State returns a copy of the state (x, ẋ, θ, θ̇), which is also the
// observation.
func (c *CartPole) State() []float64 { return append([]float64(nil), c.state[:]...) }

// Step pushes the cart left (action[0] == 0) or right (action[0] == 1) for one
// time step of 0.02 s.
func (c *CartPole) Step(action []float64) (obs []float64, reward float64, terminated, truncated bool) {
	if c.done {
		panic("env: CartPole.Step called on a finished episode; call Reset")
	}
	if !c.actionSpace.Contains(action) {
		panic("env: CartPole.Step: action not in Discrete(2)")
	}
	x, xDot, theta, thetaDot := c.state[0], c.state[1], c.state[2], c.state[3]
	force := -cartPoleForceMag
	if action[0] == 1 {
		force = cartPoleForceMag
	}
	cosTheta, sinTheta := math.Cos(theta), math.Sin(theta)
	temp := (force + cartPolePoleMassLen*thetaDot*thetaDot*sinTheta) / cartPoleTotalMass
	thetaAcc := (cartPoleGravity*sinTheta - cosTheta*temp) /
		(cartPoleLength * (4.0/3.0 - cartPoleMassPole*cosTheta*cosTheta/cartPoleTotalMass))
	xAcc := temp - cartPolePoleMassLen*thetaAcc*cosTheta/cartPoleTotalMass
	// Explicit Euler, Gymnasium's default kinematics_integrator: positions
	// advance with the old velocities.
	x += cartPoleTau * xDot
	xDot += cartPoleTau * xAcc
	theta += cartPoleTau * thetaDot
	thetaDot += cartPoleTau * thetaAcc
	c.state = [4]float64{x, xDot, theta, thetaDot}
	c.steps++

	terminated = x < -cartPoleXThreshold || x > cartPoleXThreshold ||
		theta < -CartPoleThetaThreshold || theta > CartPoleThetaThreshold
	truncated = !terminated && c.steps >= cartPoleStepsMax
	c.done = terminated || truncated
	return c.State(), 1, terminated, truncated
}
