package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
	gnet "github.com/grayrt/gray/net"
)

// secretFileName is the cluster secret's file in a head's data dir when
// --secret-file is not given.
const secretFileName = "cluster-secret"

// parseBytes reads a byte count such as "512MiB", "8GiB", "1.5GB" or
// "1048576". Binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB)
// units are accepted; a bare number is bytes.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
		{"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*mult > float64(math.MaxInt64/core.QuantityScale) {
		return 0, fmt.Errorf("bad byte count %q: want a number with an optional unit such as 512MiB or 8GiB", s)
	}
	return int64(f * mult), nil
}

// parseResources reads "CPU=4,GPU=1,memory=8GiB,custom=2". memory takes
// a byte count with units; every other amount is a decimal with at most
// four fractional digits. Without CPU the node offers runtime.NumCPU().
func parseResources(s string) (core.Resources, error) {
	m := map[string]core.Quantity{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, amount, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("bad resource %q: want NAME=AMOUNT, e.g. CPU=4,memory=8GiB", item)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("resource %q given twice", name)
		}
		if name == core.Memory {
			b, err := parseBytes(amount)
			if err != nil {
				return nil, fmt.Errorf("resource memory: %w", err)
			}
			m[name] = core.Units(b)
			continue
		}
		q, err := core.ParseQuantity(amount)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		m[name] = q
	}
	if _, ok := m[core.CPU]; !ok {
		m[core.CPU] = core.Units(int64(runtime.NumCPU()))
	}
	return core.NewResources(m)
}

// listenMultiaddr accepts a multiaddr or host:port (an IP literal, since
// a host listens on its own interfaces) and returns a multiaddr.
func listenMultiaddr(s string) (string, error) {
	if strings.HasPrefix(s, "/") {
		return s, nil
	}
	m, err := gnet.TCPMultiaddr(s)
	if err != nil {
		return "", fmt.Errorf("bad listen address %q: want a multiaddr (/ip4/0.0.0.0/tcp/6380) or IP:PORT (0.0.0.0:6380)", s)
	}
	return m, nil
}

// ensureSecret returns the secret in path, first creating it (32 random
// bytes, hex, mode 0600) if it does not exist. created reports whether it
// did.
func ensureSecret(path string) (secret []byte, created bool, err error) {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		s, err := gnet.ReadSecretFile(path)
		return s, false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		return nil, false, fmt.Errorf("cluster secret: %w", err)
	}
	s, err := gnet.ReadSecretFile(path)
	return s, true, err
}

// writeFileAtomic writes data to path through a synced temporary file
// renamed into place, so that readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
