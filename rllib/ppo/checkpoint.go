package ppo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/grayrt/gray/rllib/nn"
	"github.com/vmihailenco/msgpack/v5"
)

// ErrCheckpoint is wrapped by the errors of Restore for a checkpoint that is
// malformed, of another version or for another environment or network.
var ErrCheckpoint = errors.New("ppo: bad checkpoint")

// checkpointVersion is the version of the checkpoint format written by Save.
const checkpointVersion = 1

// checkpoint is the msgpack-encoded content of a checkpoint file.
type checkpoint struct {
	Version    int
	Config     Config
	Weights    []byte
	Adam       nn.Adam
	LearnerRNG []byte
	Iteration  int
	Timesteps  int64
	Episodes   int64
	Recent     []float64
}

// Save writes the learner's weights, the Adam state, the learner's shuffling
// state and the iteration counters to path, atomically: it writes a
// temporary file in the same directory and renames it. The env runners'
// episodes in progress are not saved; a restored algorithm's runners start
// from their own state.
func (a *Algorithm) Save(path string) error {
	rng, err := a.learner.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("ppo: save: %w", err)
	}
	cp := checkpoint{
		Version:    checkpointVersion,
		Config:     a.Config(),
		Weights:    a.learner.Weights(),
		Adam:       *a.learner.opt,
		LearnerRNG: rng,
		Iteration:  a.iteration,
		Timesteps:  a.timesteps,
		Episodes:   a.episodes,
		Recent:     a.recent,
	}
	b, err := msgpack.Marshal(&cp)
	if err != nil {
		return fmt.Errorf("ppo: save: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ppo: save: %w", err)
	}
	defer os.Remove(f.Name()) // Fails harmlessly after the rename.
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("ppo: save: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ppo: save: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ppo: save: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("ppo: save: %w", err)
	}
	return nil
}

// Restore loads a checkpoint written by Save into a, which must have been
// built for the same environment and hidden sizes. Other config fields
// (learning rate, batch sizes, runners) may differ, so a run can resume
// with another number of runners. On error a is unchanged.
func (a *Algorithm) Restore(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ppo: restore: %w", err)
	}
	return a.restore(b)
}

// restore loads an encoded checkpoint; see Restore.
func (a *Algorithm) restore(b []byte) error {
	var cp checkpoint
	if err := msgpack.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if cp.Version != checkpointVersion {
		return fmt.Errorf("version %d, want %d: %w", cp.Version, checkpointVersion, ErrCheckpoint)
	}
	if cp.Config.Env != a.cfg.Env || !slices.Equal(cp.Config.Hidden, a.cfg.Hidden) {
		return fmt.Errorf("checkpoint for %s %v, algorithm for %s %v: %w",
			cp.Config.Env, cp.Config.Hidden, a.cfg.Env, a.cfg.Hidden, ErrCheckpoint)
	}
	n := len(a.learner.model.Params)
	if len(cp.Adam.M) != n || len(cp.Adam.V) != n || cp.Adam.T < 0 {
		return fmt.Errorf("optimizer state for %d parameters, want %d: %w", len(cp.Adam.M), n, ErrCheckpoint)
	}
	if cp.Iteration < 0 || cp.Timesteps < 0 || cp.Episodes < 0 || len(cp.Recent) > smoothingEpisodes {
		return fmt.Errorf("negative counters or %d recent episodes: %w", len(cp.Recent), ErrCheckpoint)
	}
	pcg := *a.learner.pcg
	if err := pcg.UnmarshalBinary(cp.LearnerRNG); err != nil {
		return fmt.Errorf("learner random state: %w: %w", err, ErrCheckpoint)
	}
	// SetWeights leaves the parameters unchanged on error, and it is the
	// last check that can fail.
	if err := a.learner.model.SetWeights(cp.Weights); err != nil {
		return fmt.Errorf("%w: %w", err, ErrCheckpoint)
	}
	adam := cp.Adam
	adam.LR = a.cfg.LR
	*a.learner.opt = adam
	*a.learner.pcg = pcg
	a.iteration, a.timesteps, a.episodes = cp.Iteration, cp.Timesteps, cp.Episodes
	a.recent = cp.Recent
	return nil
}
