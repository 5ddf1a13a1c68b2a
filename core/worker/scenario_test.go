package worker_test

import (
	"testing"

	"github.com/grayrt/gray/internal/scenario"
)

// TestScenarios runs the scenario files in testdata/scenarios (see
// package scenario for their commands). Rewrite their expected outputs
// with: go test ./core/worker -run TestScenarios -rewrite
func TestScenarios(t *testing.T) { scenario.RunDir(t, "testdata/scenarios") }
