package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchSettings checks gray bench's setting errors: cluster says what
// it needs (exit 1), an unknown setting or a bad regex is a usage error.
func TestBenchSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "--setting", "cluster"}, exitFailed, "needs gray.WithAddress"},
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
