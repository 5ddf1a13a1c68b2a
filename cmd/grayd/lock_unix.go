//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the file grayd holds an exclusive lock on while it
// uses a data dir.
const lockFileName = "grayd.lock"

// lockDataDir takes an exclusive, non-blocking lock on dir, so that a
// second grayd on the same data dir fails before it touches anything (the
// address file, the key, the database). The lock lasts until the returned
// file is closed or the process exits, however it exits.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another grayd uses the data dir %s: give each grayd its own --data-dir", dir)
		}
		return nil, fmt.Errorf("data dir lock %s: %w", path, err)
	}
	return f, nil
}
