package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchSettings checks gray bench's usage errors: an unknown setting,
// a bad regex, extra arguments. (The cluster setting re-executes the gray
// binary, which a test binary is not: see TestBenchRefusesTestBinary.)
func TestBenchSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "--setting", "moon"}, exitUsage, "unknown setting"},
		{[]string{"bench", "--cases", "("}, exitUsage, "--cases"},
		{[]string{"bench", "extra"}, exitUsage, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"gray"}, tc.args...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("gray %v = exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

// TestBenchRefusesTestBinary: gray bench re-executes its own binary (the
// libp2p peer, the cluster's head); run from a test binary that would run
// the tests again in every child, so it refuses.
func TestBenchRefusesTestBinary(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"gray", "bench", "--quick", "--setting", "cluster"}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "test binary") {
		t.Errorf("gray bench from a test binary = exit %d, stderr %q; want exit %d naming the test binary", code, stderr.String(), exitFailed)
	}
}
