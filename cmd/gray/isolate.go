package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
)

// seedMemoryDefault is --seed-memory's default: some hundred times what
// a seed of the built-in workloads takes (tens of MiB), so that it only
// catches a runaway seed before the machine's OOM killer does.
const seedMemoryDefault = "4GiB"

// seedWorkerArgs are the arguments with which sim run starts gray itself
// as a seed worker (the hidden `sim serve-seeds`).
var seedWorkerArgs = []string{"sim", "serve-seeds"}

// isolationFromFlags is the isolation of sim run: its workers are this
// very binary, so they know the same workloads and run the same code.
func isolationFromFlags(c *cli.Context) (*sim.Isolation, error) {
	timeout := c.Duration("seed-timeout")
	if timeout <= 0 {
		return nil, usageError("--seed-timeout %v: want a positive duration such as 5m", timeout)
	}
	mem, err := parseBytes(c.String("seed-memory"))
	if err != nil {
		return nil, usageError("--seed-memory: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("finding gray's own binary to start seed workers: %v (or use --in-process)", err), exitFailed)
	}
	return &sim.Isolation{Command: append([]string{exe}, seedWorkerArgs...), SeedWallMax: timeout, MemoryBytesMax: mem}, nil
}

// simServeSeeds is the hidden `gray sim serve-seeds`: a seed worker. Its
// stdout belongs to the protocol; an interrupt (which a terminal sends to
// the whole process group) is already caught by main, so the parent
// campaign alone decides when to stop.
func simServeSeeds(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("unexpected argument %q", c.Args().First())
	}
	if err := sim.ServeSeeds(c.App.Reader, c.App.Writer); err != nil {
		return cli.Exit(err.Error(), exitFailed)
	}
	return nil
}

// parseBytes parses a size: a number of bytes, or a number with one of the
// units B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of
// 1000). "0" is zero.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	unit := strings.TrimSpace(s[len(num):])
	mult, ok := map[string]float64{
		"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	}[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)", s, unit)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 512MiB or 4GiB", s)
	}
	if v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v * mult), nil
}
