package simtest

import (
	"testing"
	"time"
)

// TestShortSeedsCutsTheSelection: go test -short runs the first
// ShortSeeds seeds of a longer selection and leaves shorter ones alone.
func TestShortSeedsCutsTheSelection(t *testing.T) {
	for _, c := range []struct {
		seeds     string
		short     int
		want, cut string
	}{
		{"1..200", 0, "1..10", " (-short: the first 10 of 1..200)"},
		{"50..60", 3, "50..52", " (-short: the first 3 of 50..60)"},
		{"1..10", 0, "1..10", ""},
		{"7", 0, "7", ""},
		{"1..200", -1, "1..200", ""},
		{"nonsense", 0, "nonsense", ""},
	} {
		opts := Options{Seeds: c.seeds, ShortSeeds: c.short}
		cut := shortSeeds(&opts)
		if opts.Seeds != c.want || cut != c.cut {
			t.Errorf("shortSeeds(%q, %d) = %q, %q; want %q, %q", c.seeds, c.short, opts.Seeds, cut, c.want, c.cut)
		}
	}
}

// TestBudgetOfKeepsTimeForTheLastSeeds: a campaign under go test stops
// starting seeds well before the binary's -timeout, so that a loaded
// machine yields a shorter passing run rather than a killed one.
func TestBudgetOfKeepsTimeForTheLastSeeds(t *testing.T) {
	for _, c := range []struct{ left, want time.Duration }{
		{10 * time.Minute, 8 * time.Minute},
		{time.Minute, 30 * time.Second},
		{20 * time.Second, time.Second},
	} {
		if got := budgetOf(c.left); got != c.want {
			t.Errorf("budgetOf(%v) = %v, want %v", c.left, got, c.want)
		}
	}
}
