//go:build !linux

package net

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
)

// Without memfd (not Linux), segments are Go memory, shared within one
// program only.

func memfdAvailable() bool { return false }

func memfdCreate(int64) (*shmSeg, error) { return nil, errors.New("net: memfd segments need Linux") }

func memfdOpen(handle string, _ int64, _ bool) (*shmSeg, error) {
	return nil, fmt.Errorf("net: shared segment %.60q: %w (memfd segments need Linux)", handle, core.ErrShmForeign)
}
