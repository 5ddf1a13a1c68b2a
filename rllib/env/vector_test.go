package env

import (
	"errors"
	"slices"
	"testing"
)

// rollout steps a Vector of CartPoles with a fixed action pattern and
// returns every observation and the completed episode lengths.
func rollout(t *testing.T, seed uint64, n, steps int) (obs []float64, episodes []int) {
	t.Helper()
	v, err := MakeVector("CartPole-v1", n)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range v.Reset(seed) {
		obs = append(obs, o...)
	}
	actions := make([][]float64, n)
	for s := 0; s < steps; s++ {
		for i := range actions {
			actions[i] = []float64{float64((s / (i + 1)) % 2)}
		}
		r := v.Step(actions)
		for i, o := range r.Obs {
			obs = append(obs, o...)
			if r.Terminated[i] || r.Truncated[i] {
				if r.FinalObs[i] == nil {
					t.Fatalf("step %d copy %d: episode ended without FinalObs", s, i)
				}
				episodes = append(episodes, r.EpisodeLen[i])
				if float64(r.EpisodeLen[i]) != r.EpisodeReturn[i] {
					t.Errorf("CartPole episode of length %d has return %v", r.EpisodeLen[i], r.EpisodeReturn[i])
				}
			} else if r.FinalObs[i] != nil {
				t.Fatalf("step %d copy %d: FinalObs without episode end", s, i)
			}
		}
	}
	return obs, episodes
}

func TestVectorDeterminism(t *testing.T) {
	a, epA := rollout(t, 5, 3, 300)
	b, epB := rollout(t, 5, 3, 300)
	if !slices.Equal(a, b) || !slices.Equal(epA, epB) {
		t.Fatalf("two rollouts with seed 5 differ")
	}
	if len(epA) == 0 {
		t.Fatalf("no episode ended in 300 steps; auto-reset untested")
	}
	c, _ := rollout(t, 6, 3, 300)
	if slices.Equal(a, c) {
		t.Errorf("seeds 5 and 6 gave the same rollout")
	}
}

func TestVectorCopiesDiffer(t *testing.T) {
	v, err := MakeVector("CartPole-v1", 4)
	if err != nil {
		t.Fatal(err)
	}
	obs := v.Reset(1)
	for i := 1; i < len(obs); i++ {
		if slices.Equal(obs[0], obs[i]) {
			t.Errorf("copies 0 and %d start from the same observation %v", i, obs[0])
		}
	}
}

func TestMakeUnknown(t *testing.T) {
	if _, err := Make("Nope-v0"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Make(Nope-v0) error = %v, want ErrUnknown", err)
	}
	if got, want := Names(), []string{"CartPole-v1", "Pendulum-v1"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}
