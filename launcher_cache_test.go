package gray

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCachedBinariesAreSwept: of four cached binaries, one a worker runs
// stays, one used within the retention stays, one last used before it
// and one this process never used, written before it, go.
func TestCachedBinariesAreSwept(t *testing.T) {
	dir := t.TempDir()
	l := newLauncher(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, "", "", dir)
	l.retention = time.Hour
	if err := os.MkdirAll(l.binDir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, name := range []string{"running", "recent", "stale", "unknown"} {
		if err := os.WriteFile(filepath.Join(l.binDir, name), []byte(name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(l.binDir, "unknown"), old, old); err != nil {
		t.Fatal(err)
	}
	l.procBinary["token-1"] = "running"
	l.used["running"] = old
	l.used["recent"] = now.Add(-time.Minute)
	l.used["stale"] = old
	if n := l.sweepCache(now); n != 2 {
		t.Errorf("removed %d binaries, want 2", n)
	}
	for name, want := range map[string]bool{"running": true, "recent": true, "stale": false, "unknown": false} {
		_, err := os.Stat(filepath.Join(l.binDir, name))
		if got := err == nil; got != want {
			t.Errorf("%s kept = %v, want %v", name, got, want)
		}
	}
}
