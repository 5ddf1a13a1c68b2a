package gray_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/grayrt/gray"
)

type splitter struct{ calls int }

var (
	// split returns three values: small, large (plasma) and small.
	split = gray.Task1N("test.split", 3, func(_ context.Context, x int) ([][]byte, error) {
		return [][]byte{{byte(x)}, bytes.Repeat([]byte{byte(x + 1)}, 300<<10), {byte(x + 2)}}, nil
	})
	// miscount says it returns two values and returns one.
	miscount = gray.Task0N("test.miscount", 2, func(context.Context) ([]int, error) { return []int{1}, nil })

	splitterClass = gray.Actor("test.Splitter", func(context.Context) (*splitter, error) { return &splitter{}, nil })
	splitDivMod   = gray.Method1N("divmod", 2, func(s *splitter, _ context.Context, x int) ([]int, error) {
		s.calls++
		return []int{x / 7, x % 7}, nil
	})
)

// TestMultipleReturns: a task and an actor method with several returns
// give one Ref per value, each its own object; a body returning another
// number of values fails every Ref with ErrTaskFailed.
func TestMultipleReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	rt, err := gray.Init(ctx, gray.WithNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	refs := split.Remote(ctx, gray.V(10))
	if len(refs) != 3 {
		t.Fatalf("%d refs, want 3", len(refs))
	}
	refs[0].Release() // the others live on
	big, err := refs[1].Get(ctx)
	if err != nil || len(big) != 300<<10 || big[0] != 11 {
		t.Fatalf("return 2: %d bytes, %v", len(big), err)
	}
	if last, err := refs[2].Get(ctx); err != nil || !bytes.Equal(last, []byte{12}) {
		t.Fatalf("return 3: %v, %v", last, err)
	}
	// A return passed on as an argument, apart from its siblings.
	if n, err := checksum.Remote(ctx, refs[1]).Get(ctx); err != nil || n != 11*(300<<10) {
		t.Fatalf("checksum of return 2: %d, %v", n, err)
	}
	for _, r := range miscount.Remote(ctx) {
		if _, err := r.Get(ctx); !errors.Is(err, gray.ErrTaskFailed) || !strings.Contains(err.Error(), "returned 1 values, want 2") {
			t.Fatalf("miscount: %v, want ErrTaskFailed saying how many", err)
		}
	}
	s, err := splitterClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dm := splitDivMod.Remote(ctx, s, gray.V(45))
	q, err1 := dm[0].Get(ctx)
	r, err2 := dm[1].Get(ctx)
	if err1 != nil || err2 != nil || q != 6 || r != 3 {
		t.Fatalf("divmod(45) = %d, %d (%v, %v); want 6, 3", q, r, err1, err2)
	}
}
