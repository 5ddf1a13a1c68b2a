//go:build !invariants

package invariants

import "testing"

// TestDisabledWithoutTag: without the invariants tag the expensive checks
// are compiled out.
func TestDisabledWithoutTag(t *testing.T) {
	if Enabled {
		t.Fatal("Enabled = true in a build without -tags invariants, want false")
	}
}
