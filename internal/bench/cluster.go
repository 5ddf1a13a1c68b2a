package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/grayrt/gray"
	gnet "github.com/grayrt/gray/net"
)

// clusterMaxWorkers is the head's worker cap in the cluster setting:
// enough for every case's actors (a worker each) and task workers.
const clusterMaxWorkers = 128

// ClusterSetting is the cluster setting: the cases' driver joins
// (gray.WithAddress) a head node running in another process, started by
// node(ctx, dataDir, secretFile, maxWorkers) on first use and stopped by
// Close, on loopback over libp2p. The node command is this same program
// (gray bench node), so the tasks run on the node's own workers, in the
// other process, and every call crosses the libp2p transport twice.
// Calls are compared with the libp2p round trip, the gigabyte cases with
// one libp2p stream's throughput (libp2p_stream_gigabytes), both between
// this process and the peer process (Config.Peer).
func ClusterSetting(node func(ctx context.Context, dataDir, secretFile string, maxWorkers int) *exec.Cmd) Setting {
	c := &clusterSetting{node: node}
	return Setting{Name: "cluster", Limit: limitP2PRoundTrip, BytesLimit: limitP2PStream, Start: c.start, Close: c.close}
}

type clusterSetting struct {
	node func(ctx context.Context, dataDir, secretFile string, maxWorkers int) *exec.Cmd

	mu      sync.Mutex
	cmd     *exec.Cmd
	dir     string
	secret  string
	address string
}

func (c *clusterSetting) start(ctx context.Context, actors int) (*gray.Runtime, error) {
	if actors > clusterMaxWorkers-64 {
		return nil, fmt.Errorf("bench: a case needs %d actors, the cluster setting's head runs at most %d workers", actors, clusterMaxWorkers)
	}
	if err := c.ensureHead(); err != nil {
		return nil, err
	}
	return gray.Init(ctx, gray.WithAddress(c.address), gray.WithSecretFile(c.secret), gray.WithWorkerOutput(nil))
}

// ensureHead starts the head process once and reads its GCS address.
func (c *clusterSetting) ensureHead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "gray-bench-cluster-")
	if err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	secret := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secret, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		return err
	}
	// The head lives until Close: not tied to one case's ctx.
	cmd := c.node(context.Background(), filepath.Join(dir, "head"), secret, clusterMaxWorkers)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if _, err := cmd.StdinPipe(); err != nil { // closed when we exit: the head then exits too
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: starting the cluster's head: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	select {
	case l, ok := <-lines:
		if !ok || !strings.HasSuffix(l, "#gcs") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("bench: the cluster's head printed %q, want its GCS address", l)
		}
		c.cmd, c.dir, c.secret, c.address = cmd, dir, secret, l
		return nil
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("bench: the cluster's head printed no address within a minute")
	}
}

func (c *clusterSetting) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	_ = os.RemoveAll(c.dir)
	c.cmd = nil
}

// RunNode is the cluster setting's head process (gray bench node): a
// gray.StartNode head until stdin closes or ctx ends. It prints the GCS
// address on stdout.
func RunNode(ctx context.Context, dataDir, secretFile string, maxWorkers int, stdin *os.File) error {
	secret, err := gnet.ReadSecretFile(secretFile)
	if err != nil {
		return err
	}
	n, err := gray.StartNode(ctx, gray.NodeOptions{Head: true, DataDir: dataDir, ClusterSecret: secret, MaxWorkers: maxWorkers})
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Println(n.GCSAddress())
	eof := make(chan struct{})
	go func() { // ends when the parent closes stdin or exits
		buf := make([]byte, 64)
		for {
			if _, err := stdin.Read(buf); err != nil {
				close(eof)
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	case err := <-n.Failed():
		return err
	}
	return nil
}
