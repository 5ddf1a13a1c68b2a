//go:build invariants

package invariants

import "testing"

// TestEnabledUnderTag: the invariants tag selects on.go, so the checks
// the tag promises are compiled in.
func TestEnabledUnderTag(t *testing.T) {
	if !Enabled {
		t.Fatal("Enabled = false in a build with -tags invariants, want true")
	}
}
