package main

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestEstimate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	pi, err := estimate(ctx, 8, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pi-math.Pi) > 0.05 {
		t.Fatalf("estimate(8, 100000) = %v, want within 0.05 of π", pi)
	}
}
