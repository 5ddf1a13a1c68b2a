package ppo

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/rllib/env"
)

// ErrConfig is wrapped by the errors of New for an invalid Config.
var ErrConfig = errors.New("ppo: invalid config")

// Config configures PPO. Field names follow RLlib's PPOConfig where one
// exists.
type Config struct {
	// Env is the registered environment name, such as "CartPole-v1".
	Env string
	// EnvRunners is the number of env runners and EnvsPerRunner the number
	// of vectorised environment copies each one steps.
	EnvRunners, EnvsPerRunner int
	// LR is Adam's learning rate.
	LR float64
	// Epochs is the number of passes over each training batch
	// (num_epochs), MinibatchSize the number of steps per SGD step.
	Epochs, MinibatchSize int
	// TrainBatchSize is the number of environment steps sampled per
	// iteration, split evenly over the runners and their copies (rounded up
	// to a multiple of EnvRunners·EnvsPerRunner).
	TrainBatchSize int
	// Hidden are the hidden layer sizes of both the policy and the value
	// network.
	Hidden []int
	// Gamma is the discount and Lambda GAE's λ.
	Gamma, Lambda float64
	// Clip is the surrogate objective's ε (clip_param).
	Clip float64
	// VFClip clips the value function's change per update around the
	// sampling values, as in PPO2; 0 disables it.
	VFClip float64
	// VFCoef weighs the value loss and EntCoef the entropy bonus.
	VFCoef, EntCoef float64
	// GradClip is the maximum global gradient norm; 0 disables clipping.
	GradClip float64
	// Seed determines every random number of the run.
	Seed uint64
}

// DefaultConfig returns a configuration that solves CartPole-v1.
func DefaultConfig() Config {
	return Config{
		Env:            "CartPole-v1",
		EnvRunners:     2,
		EnvsPerRunner:  4,
		LR:             1e-3,
		Epochs:         10,
		MinibatchSize:  128,
		TrainBatchSize: 2048,
		Hidden:         []int{64, 64},
		Gamma:          0.99,
		Lambda:         0.95,
		Clip:           0.2,
		VFClip:         0,
		VFCoef:         0.5,
		EntCoef:        0,
		GradClip:       0.5,
		Seed:           1,
	}
}

// validate returns an error wrapping ErrConfig that names the first invalid
// field.
func (c Config) validate() error {
	if _, err := env.Make(c.Env); err != nil {
		return fmt.Errorf("Env: %w: %w", err, ErrConfig)
	}
	checks := []struct {
		ok    bool
		field string
		want  string
	}{
		{c.EnvRunners >= 1, "EnvRunners", "at least 1"},
		{c.EnvsPerRunner >= 1, "EnvsPerRunner", "at least 1"},
		{c.LR > 0, "LR", "positive"},
		{c.Epochs >= 1, "Epochs", "at least 1"},
		{c.MinibatchSize >= 1, "MinibatchSize", "at least 1"},
		{c.TrainBatchSize >= 1, "TrainBatchSize", "at least 1"},
		{len(c.Hidden) >= 1, "Hidden", "at least one layer"},
		{c.Gamma > 0 && c.Gamma <= 1, "Gamma", "in (0, 1]"},
		{c.Lambda >= 0 && c.Lambda <= 1, "Lambda", "in [0, 1]"},
		{c.Clip > 0, "Clip", "positive"},
		{c.VFClip >= 0, "VFClip", "non-negative"},
		{c.VFCoef >= 0 && c.EntCoef >= 0, "VFCoef and EntCoef", "non-negative"},
		{c.GradClip >= 0, "GradClip", "non-negative"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("%s must be %s: %w", ch.field, ch.want, ErrConfig)
		}
	}
	for _, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("Hidden %v must be positive sizes: %w", c.Hidden, ErrConfig)
		}
	}
	return nil
}

// stepsPerRunner returns how many steps each runner samples per iteration.
func (c Config) stepsPerRunner() int {
	per := c.EnvRunners * c.EnvsPerRunner
	return (c.TrainBatchSize + per - 1) / per * c.EnvsPerRunner
}
