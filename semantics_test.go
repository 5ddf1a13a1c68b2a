package gray_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray"
)

// Ray Core semantics a port relies on (issue 21), one test per item.

// ErrQuota is a sentinel a task body returns; QuotaError a typed error.
var ErrQuota = errors.New("quota exceeded")

// QuotaError carries data the caller wants back.
type QuotaError struct {
	Resource string
	Limit    int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s over its quota of %d", e.Resource, e.Limit)
}

func init() {
	gray.RegisterError("gray_test.ErrQuota", ErrQuota)
	gray.RegisterErrorType[*QuotaError]("gray_test.QuotaError")
}

var (
	// leafFail fails with the sentinel (kind "sentinel") or the typed
	// error, wrapped.
	leafFail = gray.Task1("test.leafFail", func(_ context.Context, kind string) (int, error) {
		if kind == "sentinel" {
			return 0, fmt.Errorf("leaf: %w", ErrQuota)
		}
		return 0, fmt.Errorf("leaf: %w", &QuotaError{Resource: "disk", Limit: 5})
	})
	// middle calls leafFail and passes its error on, wrapped.
	middle = gray.Task1("test.middle", func(ctx context.Context, kind string) (int, error) {
		_, err := leafFail.Remote(ctx, gray.V(kind)).Get(ctx)
		return 0, fmt.Errorf("middle: %w", err)
	})
	// plusOne takes an int by reference.
	plusOne = gray.Task1("test.plusOne", func(_ context.Context, x int) (int, error) { return x + 1, nil })
)

// TestErrorIdentityAcrossTasks (item 5): a registered sentinel and a
// registered error type returned by a body two tasks down still match
// (errors.Is, errors.As with the value) in the driver, as well as
// ErrTaskFailed; an unregistered error matches only ErrTaskFailed.
func TestErrorIdentityAcrossTasks(t *testing.T) {
	ctx := start(t)
	_, err := middle.Options(gray.WithMaxRetries(0)).Remote(ctx, gray.V("sentinel")).Get(ctx)
	if !errors.Is(err, ErrQuota) || !errors.Is(err, gray.ErrTaskFailed) {
		t.Errorf("sentinel two tasks up: %v; Is(ErrQuota) %v, Is(ErrTaskFailed) %v; want both", err, errors.Is(err, ErrQuota), errors.Is(err, gray.ErrTaskFailed))
	}
	_, err = middle.Remote(ctx, gray.V("typed")).Get(ctx)
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Resource != "disk" || qe.Limit != 5 {
		t.Errorf("typed error two tasks up: %v; As gives %+v", err, qe)
	}
	if errors.Is(err, ErrQuota) {
		t.Errorf("the typed error matches the sentinel: %v", err)
	}
	_, err = Divide.Remote(ctx, gray.V(1), gray.V(0)).Get(ctx)
	if !errors.Is(err, gray.ErrTaskFailed) || errors.Is(err, ErrQuota) || errors.As(err, &qe) {
		t.Errorf("an unregistered error: %v", err)
	}
}

// TestDependentOfFailedCall (item 4): a task whose argument is the
// result of a call to a dead actor fails with an error that matches
// ErrActorDied and names the dependent task and its argument.
func TestDependentOfFailedCall(t *testing.T) {
	ctx := start(t)
	a, err := AccountClass.New(ctx, gray.V(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Kill(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, err = plusOne.Remote(ctx, Deposit.Remote(ctx, a, gray.V(1))).Get(ctx)
	var te *gray.TaskError
	if !errors.Is(err, gray.ErrActorDied) || !errors.As(err, &te) || !strings.Contains(te.Task, "test.plusOne") || !strings.Contains(te.Message, "argument 1") {
		t.Errorf("dependent of a dead actor's call: %v; want ErrActorDied naming test.plusOne and its argument 1", err)
	}
	// A Put that does not fit matches ErrObjectStoreFull.
	_, err = gray.Put(ctx, make([]byte, 300<<20)).Get(ctx)
	if !errors.Is(err, gray.ErrObjectStoreFull) {
		t.Errorf("a Put larger than the store: %v, want ErrObjectStoreFull", err)
	}
}

// TestAPIValidation (item 8): Wait refuses a ref given twice, and
// WithGetIfExists without a name is refused.
func TestAPIValidation(t *testing.T) {
	ctx := start(t)
	x := Square.Remote(ctx, gray.V(2))
	if _, _, err := gray.Wait(ctx, []gray.Ref[int]{x, x}, 2, time.Second); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Wait with a ref twice: %v, want an error", err)
	}
	if _, err := AccountClass.New(ctx, gray.V(0), gray.WithGetIfExists()); err == nil || !strings.Contains(err.Error(), "WithName") {
		t.Errorf("WithGetIfExists without a name: %v, want an error naming WithName", err)
	}
}

// TestCPULessNode (item 8): a cluster of CPU-less nodes starts, as Ray
// allows; a task that needs no CPU runs there.
func TestCPULessNode(t *testing.T) {
	ctx := start(t, gray.WithCPUsPerNode(0))
	if v, err := Square.Options(gray.WithCPUs(0)).Remote(ctx, gray.V(3)).Get(ctx); err != nil || v != 9 {
		t.Fatalf("a CPU-less task on a CPU-less node: %d, %v", v, err)
	}
}
