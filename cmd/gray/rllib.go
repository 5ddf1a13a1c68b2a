package main

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/rllib/distributed"
	"github.com/grayrt/gray/rllib/ppo"
)

// rllibCommand groups the reinforcement learning commands.
func rllibCommand() *cli.Command {
	return &cli.Command{
		Name:         "rllib",
		Usage:        "reinforcement learning on an embedded cluster (docs/rllib.md)",
		OnUsageError: onUsageError,
		Action:       helpOrUnknown,
		Subcommands: []*cli.Command{{
			Name:  "train",
			Usage: "train an algorithm with env runners as gray actors",
			Description: "Starts an embedded cluster, trains with --env-runners actor env runners and\n" +
				"prints one line per iteration. Stops when the mean episode return of the last 100\n" +
				"episodes reaches --stop-reward (exit 0) or after --max-iters iterations (exit 1).\n" +
				"--out DIR writes learning_curve.csv and learning_curve.png.",
			OnUsageError: onUsageError,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "algo", Value: "ppo", Usage: "algorithm (only `ppo`)"},
				&cli.StringFlag{Name: "env", Value: "CartPole-v1", Usage: "environment `NAME`"},
				&cli.IntFlag{Name: "env-runners", Value: 2, Usage: "number of actor env runners"},
				&cli.IntFlag{Name: "envs-per-runner", Value: 4, Usage: "vectorised environment copies per runner"},
				&cli.Float64Flag{Name: "stop-reward", Value: 450, Usage: "stop when the mean episode return reaches `R`"},
				&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed"},
				&cli.IntFlag{Name: "max-iters", Value: 200, Usage: "stop after `N` iterations"},
				&cli.StringFlag{Name: "out", Usage: "write the learning curve to `DIR`"},
			},
			Action: rllibTrain,
		}},
	}
}

func rllibTrain(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("gray rllib train takes no arguments, got %q", c.Args().Slice())
	}
	if a := c.String("algo"); a != "ppo" {
		return usageError("gray rllib train: unknown --algo %q (only ppo)", a)
	}
	cfg := ppo.DefaultConfig()
	cfg.Env = c.String("env")
	cfg.EnvRunners = c.Int("env-runners")
	cfg.EnvsPerRunner = c.Int("envs-per-runner")
	cfg.Seed = c.Uint64("seed")
	maxIters, stop := c.Int("max-iters"), c.Float64("stop-reward")
	if cfg.EnvRunners < 1 || maxIters < 1 {
		return usageError("gray rllib train: --env-runners and --max-iters must be at least 1")
	}
	ctx := c.Context
	rt, err := gray.Init(ctx, gray.WithMaxWorkersPerNode(max(gray.DefaultMaxWorkers(0), cfg.EnvRunners+2)+max(runtime.NumCPU(), 2)))
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray rllib train: %v", err), exitFailed)
	}
	defer rt.Shutdown()
	algo, err := distributed.New(ctx, cfg, distributed.Options{})
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray rllib train: %v", err), exitFailed)
	}
	defer algo.Close(ctx)

	w := c.App.Writer
	fmt.Fprintf(w, "ppo on %s: %d actor env runners × %d envs, seed %d, stop at return %g or %d iterations\n",
		cfg.Env, cfg.EnvRunners, cfg.EnvsPerRunner, cfg.Seed, stop, maxIters)
	var curve []distributed.Metrics
	start := time.Now()
	reached := false
	for range maxIters {
		m, err := algo.Train(ctx)
		if err != nil {
			return cli.Exit(fmt.Sprintf("gray rllib train: iteration %d: %v", algo.Iteration()+1, err), exitFailed)
		}
		curve = append(curve, m)
		fmt.Fprintf(w, "iter %3d  timesteps %7d  return mean %7.2f max %7.2f  policy %+.4f vf %.4f entropy %.4f kl %.4f  %6.0f env steps/s%s\n",
			m.Iteration, m.TimestepsTotal, m.EpisodeReturnMean, m.EpisodeReturnMax,
			m.Learner.Policy, m.Learner.Value, m.Learner.Entropy, m.Learner.ApproxKL, m.EnvStepsPerSec, restartNote(m.Restarts))
		if m.EpisodesTotal > 0 && m.EpisodeReturnMean >= stop {
			reached = true
			break
		}
	}
	wall := time.Since(start)
	if dir := c.String("out"); dir != "" {
		if err := writeCurve(dir, curve); err != nil {
			return cli.Exit(fmt.Sprintf("gray rllib train: %v", err), exitFailed)
		}
	}
	last := curve[len(curve)-1]
	if !reached {
		return cli.Exit(fmt.Sprintf("gray rllib train: return mean %.2f below %g after %d iterations (%d timesteps, %v)",
			last.EpisodeReturnMean, stop, last.Iteration, last.TimestepsTotal, wall.Round(time.Millisecond)), exitFailed)
	}
	fmt.Fprintf(w, "reached return mean %.2f ≥ %g after %d iterations, %d timesteps, %v\n",
		last.EpisodeReturnMean, stop, last.Iteration, last.TimestepsTotal, wall.Round(time.Millisecond))
	return nil
}

func restartNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("  (%d runners recreated)", n)
}

// writeCurve writes dir/learning_curve.csv and dir/learning_curve.png.
func writeCurve(dir string, curve []distributed.Metrics) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "learning_curve.csv"))
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"iteration", "timesteps", "episode_return_mean", "episode_return_max", "episodes",
		"policy_loss", "vf_loss", "entropy", "approx_kl", "env_steps_per_sec", "sample_seconds", "learn_seconds", "runner_restarts"})
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', 8, 64) }
	for _, m := range curve {
		_ = cw.Write([]string{strconv.Itoa(m.Iteration), strconv.FormatInt(m.TimestepsTotal, 10),
			g(m.EpisodeReturnMean), g(m.EpisodeReturnMax), strconv.FormatInt(m.EpisodesTotal, 10),
			g(m.Learner.Policy), g(m.Learner.Value), g(m.Learner.Entropy), g(m.Learner.ApproxKL), g(m.EnvStepsPerSec),
			g(m.SampleTime.Seconds()), g(m.LearnTime.Seconds()), strconv.Itoa(m.Restarts)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, "learning_curve.png"), curve)
}

// writeChart draws return mean (blue) and max (orange) against timesteps:
// white background, black axes, grey grid lines every 100 return, no text.
func writeChart(path string, curve []distributed.Metrics) error {
	const W, H, margin = 640, 400, 40
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var maxT int64 = 1
	maxR := 500.0
	for _, m := range curve {
		maxT = max(maxT, m.TimestepsTotal)
		maxR = max(maxR, m.EpisodeReturnMax)
	}
	px := func(t int64) int { return margin + int(float64(t)/float64(maxT)*float64(W-2*margin)) }
	py := func(r float64) int { return H - margin - int(r/maxR*float64(H-2*margin)) }
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	for r := 100.0; r <= maxR; r += 100 {
		line(img, margin, py(r), W-margin, py(r), grey)
	}
	black := color.RGBA{0, 0, 0, 0xff}
	line(img, margin, H-margin, W-margin, H-margin, black)
	line(img, margin, margin, margin, H-margin, black)
	series := []struct {
		c color.RGBA
		v func(distributed.Metrics) float64
	}{
		{color.RGBA{0xff, 0x80, 0x0e, 0xff}, func(m distributed.Metrics) float64 { return m.EpisodeReturnMax }},
		{color.RGBA{0x1f, 0x77, 0xb4, 0xff}, func(m distributed.Metrics) float64 { return m.EpisodeReturnMean }},
	}
	for _, s := range series {
		x0, y0 := px(0), py(0)
		for _, m := range curve {
			x1, y1 := px(m.TimestepsTotal), py(max(0, s.v(m)))
			line(img, x0, y0, x1, y1, s.c)
			line(img, x0, y0+1, x1, y1+1, s.c)
			x0, y0 = x1, y1
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// line draws a segment with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
