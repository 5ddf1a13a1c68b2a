package gcs_test

import (
	"slices"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// TestStagedBinariesAreRemovedWhenNoJobNeedsThem: with a retention of a
// minute, the binary of a running job stays, the binary of a job that
// finished and one staged for no job go after the retention; a restart
// keeps what a running job needs.
func TestStagedBinariesAreRemovedWhenNoJobNeedsThem(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: gcs.Config{BinaryRetention: time.Minute}})
	for _, hash := range []string{"run", "done", "orphan"} {
		h.op(0, "stage "+hash, func(c *gcs.Client, f cb) { c.KVPut(gcs.BinaryNS, hash, []byte("manifest"), true, f) })
		h.op(0, "stage a chunk of "+hash, func(c *gcs.Client, f cb) { c.KVPut(gcs.BinaryNS, hash+"/0", []byte("chunk"), true, f) })
	}
	h.op(0, "a job running binary run", func(c *gcs.Client, f cb) { c.AddJobWithBinary("driver-1", nil, "run", f) })
	h.op(0, "a job running binary done", func(c *gcs.Client, f cb) { c.AddJobWithBinary("driver-2", nil, "done", f) })
	h.op(0, "finish job 2", func(c *gcs.Client, f cb) { c.FinishJob(core.JobIDFromInt(2), f) })
	early := h.op(0, "keys within the retention", func(c *gcs.Client, f cb) { c.KVKeys(gcs.BinaryNS, "", f) })
	h.sleep(3 * time.Minute)
	late := h.op(0, "keys after the retention", func(c *gcs.Client, f cb) { c.KVKeys(gcs.BinaryNS, "", f) })
	h.crashGCS("restart")
	h.sleep(3 * time.Minute)
	restarted := h.op(0, "keys after a restart", func(c *gcs.Client, f cb) { c.KVKeys(gcs.BinaryNS, "", f) })
	h.mustPass()
	all := []string{"done", "done/0", "orphan", "orphan/0", "run", "run/0"}
	if !early.ok() || !slices.Equal(early.r.Keys, all) {
		t.Errorf("%v, want every binary within the retention", early)
	}
	for _, r := range []*res{late, restarted} {
		if !r.ok() || !slices.Equal(r.r.Keys, []string{"run", "run/0"}) {
			t.Errorf("%v, want only the running job's binary", r)
		}
	}
}
