package worker

import (
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/core/proto"
)

// TestDescribeWaits: a driver whose Get waits for add(hang()) says, one
// line each, that hang runs on the leased worker, that add waits for
// hang's return, and that its Get waits for add's return; the text is
// the same when asked twice, bounded, and empty once nothing waits.
func TestDescribeWaits(t *testing.T) {
	c := newCluster(t)
	hang, err := c.owner.SubmitTask("hang", nil, TaskOptions{MaxRetries: NoRetries})
	if err != nil {
		t.Fatal(err)
	}
	add, err := c.owner.SubmitTask("add", []proto.Arg{{Ref: &hang[0]}, {Value: i64(2)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := false
	c.owner.Get(add[0], func([]byte, error) { done = true })
	c.n.run(func() bool { return c.x.runs["hang"] == 1 })

	got := c.owner.DescribeWaits(10)
	if again := c.owner.DescribeWaits(10); !slices.Equal(got, again) {
		t.Fatalf("DescribeWaits differs when asked twice:\n%s\n---\n%s", strings.Join(got, "\n"), strings.Join(again, "\n"))
	}
	hangID, addID := hang[0].ID.Task().Short(), add[0].ID.Task().Short()
	want := []string{
		"task hang " + hangID + " attempt 0: leased worker exec on node:09000000",
		"task add " + addID + " attempt 0: waiting for its arguments " + hang[0].ID.Short(),
		"object " + add[0].ID.Short() + " in 1 Get for 0s: owned here, pending until task add " + addID + " finishes",
	}
	text := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("DescribeWaits() =\n%s\nwant a line containing %q", text, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("DescribeWaits() has %d lines, want %d:\n%s", len(got), len(want), text)
	}
	if short := c.owner.DescribeWaits(2); len(short) != 2 || short[1] != "… 2 more" {
		t.Errorf("DescribeWaits(2) = %q, want 2 lines, the last %q", short, "… 2 more")
	}

	// Interrupted, hang fails; add fails with it, and the Get answers.
	for id, hung := range c.x.hung { //gray:unordered one entry
		delete(c.x.hung, id)
		hung(nil, proto.NewError(proto.KindTaskFailed, "hang", "interrupted"))
	}
	c.n.run(func() bool { return done })
	if !done {
		t.Fatal("the Get never answered")
	}
	if got := c.owner.DescribeWaits(10); len(got) != 0 || c.owner.Blocked() != 0 {
		t.Errorf("DescribeWaits() after the Get answered = %q (%d blocked), want nothing", got, c.owner.Blocked())
	}
}
