package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	gnet "github.com/grayrt/gray/net"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1048576", 1 << 20, false},
		{"512MiB", 512 << 20, false},
		{"8GiB", 8 << 30, false},
		{"1.5GB", 1_500_000_000, false},
		{"2 KiB", 2048, false},
		{"100B", 100, false},
		{"", 0, true},
		{"-1GiB", 0, true},
		{"lots", 0, true},
		{"1e30", 0, true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseResources(t *testing.T) {
	cpus := core.Units(int64(runtime.NumCPU()))
	tests := []struct {
		in      string
		want    core.Resources
		wantErr bool
	}{
		{"", core.MustResources("CPU", cpus), false},
		{"CPU=4,GPU=1,memory=8GiB,custom=2", core.MustResources("CPU", 4, "GPU", 1, "memory", core.Units(8<<30), "custom", 2), false},
		{"CPU=0.5", core.MustResources("CPU", "0.5"), false},
		{"GPU=2", core.MustResources("CPU", cpus, "GPU", 2), false},
		{"CPU=4,CPU=2", nil, true},
		{"CPU", nil, true},
		{"CPU=-1", nil, true},
		{"CPU=0.00001", nil, true},
		{"memory=lots", nil, true},
	}
	for _, tt := range tests {
		got, err := parseResources(tt.in)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseResources(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestListenMultiaddr(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"/ip4/0.0.0.0/tcp/6380", "/ip4/0.0.0.0/tcp/6380", false},
		{"0.0.0.0:6380", "/ip4/0.0.0.0/tcp/6380", false},
		{"127.0.0.1:0", "/ip4/127.0.0.1/tcp/0", false},
		{"[::1]:6380", "/ip6/::1/tcp/6380", false},
		{"example.com:6380", "", true},
		{"6380", "", true},
	}
	for _, tt := range tests {
		got, err := listenMultiaddr(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("listenMultiaddr(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEnsureSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", secretFileName)
	s1, created, err := ensureSecret(path)
	if err != nil || !created || len(s1) != 64 {
		t.Fatalf("ensureSecret(new) = %d bytes, created %v, %v; want 64 bytes, created", len(s1), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	s2, created, err := ensureSecret(path)
	if err != nil || created || !bytes.Equal(s1, s2) {
		t.Fatalf("ensureSecret(existing) = %q, created %v, %v; want the same secret", s2, created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gnet.ReadSecretFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("gnet.ReadSecretFile(mode 0644) = %v, want a chmod hint", err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := gnet.ReadSecretFile(short); err == nil {
		t.Error("gnet.ReadSecretFile(8 bytes) succeeded, want an error")
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	tests := [][]string{
		{},
		{"--head", "--join", "/ip4/127.0.0.1/tcp/1/p2p/x#gcs"},
		{"--head", "--data-dir", dir, "--resources", "CPU=x"},
		{"--head", "--data-dir", dir, "--listen", "nowhere"},
		{"--head", "--data-dir", dir, "extra"},
		{"--head", "--no-such-flag"},
		{"--head", "--data-dir", dir, "--actor-slots", "4"}, // removed: says to use --max-workers
		{"--head", "--data-dir", dir, "--max-workers", "-1"},
		{"--join", "not-an-address", "--data-dir", dir, "--secret-file", "/nonexistent"},
		{"--join", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs,nowhere", "--data-dir", dir, "--secret-file", "/nonexistent"},
		// Replicas: only with --head, 3 or 5 well-formed addresses, this
		// head's among them.
		{"--join", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs", "--gcs-replicas", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs", "--data-dir", dir},
		{"--head", "--data-dir", dir, "--gcs-replicas", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs"},
		{"--head", "--data-dir", dir, "--gcs-replicas", "a,b,c"},
		{"--head", "--data-dir", dir, "--dashboard-listen", "", "--gcs-replicas", strings.Repeat("/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs,", 3)},
		// Configuration errors found later are usage errors too: a
		// supervisor must not restart grayd on them.
		{"--join", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWNZQobDrAPsMBNr3oeAEjgdWhtq4bcpbWjKfTSjJgKud5#gcs", "--data-dir", dir, "--secret-file", filepath.Join(dir, "no-secret")},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"grayd"}, args...), &out, &errOut); code != exitUsage {
			t.Errorf("grayd %v exited %d, want %d; stderr: %s", args, code, exitUsage, errOut.String())
		}
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	f, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Skip("no data dir lock on this platform")
	}
	if _, err := lockDataDir(dir); err == nil || !strings.Contains(err.Error(), "another grayd") {
		t.Errorf("second lockDataDir = %v, want 'another grayd'", err)
	}
	f.Close()
	g, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lockDataDir after release: %v", err)
	}
	g.Close()
}

// TestAddressCommand: grayd address prints the GCS address a head with
// that data directory and listen address has, the same every time (the
// identity key it creates is kept).
func TestAddressCommand(t *testing.T) {
	dir := t.TempDir()
	var first string
	for range 2 {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"grayd", "address", "--data-dir", dir, "--listen", "127.0.0.1:0"}, &out, &errOut); code != 0 {
			t.Fatalf("grayd address exited %d: %s", code, errOut.String())
		}
		got := strings.TrimSpace(out.String())
		if _, err := gnet.ParseP2PAddr(core.Addr(got)); err != nil || !strings.HasSuffix(got, "#gcs") {
			t.Fatalf("grayd address printed %q: %v", got, err)
		}
		peer := got[strings.Index(got, "/p2p/"):]
		if first != "" && peer != first {
			t.Fatalf("grayd address printed peer %s, then %s: the identity key changed", first, peer)
		}
		first = peer
	}
}
