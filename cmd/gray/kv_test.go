package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/gcs"
)

func TestTextKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"greeting", "greeting"},
		{"with space", "with space"},
		{"a\nb", `"a\nb"`},
		{"\xff\xfe", `"\xff\xfe"`},
		{`"quoted"`, `"\"quoted\""`},
		{"tab\there", `"tab\there"`},
		{"héllo", "héllo"},
	}
	for _, tt := range tests {
		if got := textKey(tt.key); got != tt.want {
			t.Errorf("textKey(%q) = %s, want %s", tt.key, got, tt.want)
		}
		if got := textKey(tt.key); strings.Contains(got, "\n") {
			t.Errorf("textKey(%q) = %q spans lines", tt.key, got)
		}
	}
}

func TestJSONKeys(t *testing.T) {
	b, err := json.Marshal(jsonKeys([]string{"a\nb", "\xff\xfe", ""}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `[{"key":"a\nb"},{"key_base64":"//4="},{"key":""}]`; got != want {
		t.Errorf("jsonKeys = %s, want %s", got, want)
	}
}

func TestGCSAddress(t *testing.T) {
	const id = "12D3KooWS51GLvhRVm3VjD4NhpxEqxG3hMBtqKXat7Dmqo2dMyYd"
	tests := []struct {
		in, full, peerAt string
		code             int
	}{
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id, "/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#gcs", "", 0},
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#gcs", "/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#gcs", "", 0},
		{"10.0.0.5:6380", "", "/ip4/10.0.0.5/tcp/6380", 0},
		{"[::1]:6380", "", "/ip6/::1/tcp/6380", 0},
		{"/ip4/10.0.0.5/tcp/6380", "", "/ip4/10.0.0.5/tcp/6380", 0},
		{"/ip4/10.0.0.5/tcp/6380/p2p/" + id + "#raylet", "", "", exitUsage},
		{"head.example:6380", "", "", exitUsage},
	}
	for _, tt := range tests {
		full, peerAt, err := gcsAddress(tt.in)
		if code := exitCode(err); err != nil && code != tt.code || err == nil && tt.code != 0 {
			t.Errorf("gcsAddress(%q) = %v, want exit %d", tt.in, err, tt.code)
			continue
		}
		if string(full) != tt.full || peerAt != tt.peerAt {
			t.Errorf("gcsAddress(%q) = %q, %q; want %q, %q", tt.in, full, peerAt, tt.full, tt.peerAt)
		}
	}
}

// TestCallErrorStatus checks that a call the GCS did not answer exits
// with "outcome unknown", distinct from a failure.
func TestCallErrorStatus(t *testing.T) {
	cc := &clusterConn{gcs: "/p2p/x#gcs", timeout: time.Second}
	if code := exitCode(cc.callError("kv put", gcs.ErrTimeout)); code != exitUnknown {
		t.Errorf("callError(ErrTimeout) exits %d, want %d", code, exitUnknown)
	}
	if code := exitCode(cc.callError("kv put", errors.New("invalid argument"))); code != exitFailed {
		t.Errorf("callError(another error) exits %d, want %d", code, exitFailed)
	}
}
