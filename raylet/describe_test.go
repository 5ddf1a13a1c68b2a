package raylet_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDescribeLeasesNamesHolders: with the node's only CPU leased to the
// driver's first task, its second request waits; the description names
// the queued request, why it waits and the lease (holder, worker) that
// holds the CPU, the same way every time it is asked.
func TestDescribeLeasesNamesHolders(t *testing.T) {
	var got []string
	runLeaseWorld(t, &leaseWorld{cpus: 1, idle: time.Minute, script: func(lw *leaseWorld) {
		lw.driver.request(1) // launches L0 and leases it the only CPU
		lw.after(500*time.Millisecond, func() {
			lw.driver.request(2) // queued: no CPU left
			lw.after(time.Second, func() {
				got = lw.raylet().DescribeLeases(60)
				if again := lw.raylet().DescribeLeases(60); !slices.Equal(got, again) {
					lw.failure = fmt.Sprintf("DescribeLeases differs when asked twice:\n%s\n---\n%s", strings.Join(got, "\n"), strings.Join(again, "\n"))
				}
				if n := len(lw.raylet().DescribeLeases(2)); n != 2 {
					lw.failure = fmt.Sprintf("DescribeLeases(2) has %d lines, want 2", n)
				}
				lw.done = true
			})
		})
	}})
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"available {CPU: 0} of {CPU: 1}; 1 queued, 1 granted",
		"queued lease driver/2 (f task:",
		"for 1s: resources busy: CPU (needs 1, 0 available); held by lease driver/1 (f task:",
		"granted lease driver/1 (f task:",
		"to worker raylet/L",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("DescribeLeases() =\n%s\nwant it to contain %q", text, want)
		}
	}
}
