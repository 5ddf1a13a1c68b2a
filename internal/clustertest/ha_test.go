package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	gnet "github.com/grayrt/gray/net"
)

// newHAClient returns a GCS client in the test process, over libp2p.
func newHAClient(t *testing.T, gcsAddr string, secret []byte) *gcsaddr.Client {
	t.Helper()
	tr, err := gnet.NewP2P(gnet.P2POptions{ClusterSecret: secret, NoListen: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := gnet.NewHost(gnet.HostOptions{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = h.Close(); _ = tr.Close() })
	c, err := gcsaddr.NewClient(h, "cli", core.Addr(gcsAddr), gcs.ClientOptions{Deadline: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReplicatedGCSFailover runs three grayd heads as the replicas of one
// GCS, a joined node and a driver (each given a single replica's
// address), and kills the GCS's leader with
// SIGKILL three times (restarted once the others serve again) while a
// client writes keys one after another. Every write the GCS acknowledged
// reads back after the last failover, the driver's tasks run after each,
// and the test logs the pause each failover cost the writer (a figure
// for docs/performance.md, not an assertion).
func TestReplicatedGCSFailover(t *testing.T) {
	grayd, app := build(t)
	dir := t.TempDir()
	secretHex := make([]byte, 32)
	_, _ = rand.Read(secretHex)
	secret := []byte(hex.EncodeToString(secretHex))
	secretFile := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 3
	var dirs, listens, addrs []string
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("head%d", i+1))
		l := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
		out, err := exec.Command(grayd, "address", "--data-dir", d, "--listen", l).Output()
		if err != nil {
			t.Fatalf("grayd address: %v", err)
		}
		dirs, listens, addrs = append(dirs, d), append(listens, l), append(addrs, strings.TrimSpace(string(out)))
	}
	list := strings.Join(addrs, ",")
	heads := make([]*proc, n)
	startHead := func(i int) {
		heads[i] = start(t, fmt.Sprintf("head%d", i+1), grayd, "--head", "--data-dir", dirs[i], "--listen", listens[i], "--secret-file", secretFile,
			"--gcs-replicas", list, "--resources", "CPU=0", "--dashboard-listen", "", "--log-level", "info")
		if got := heads[i].line(t, startTimeout); got != list {
			t.Fatalf("head %d prints %q, want the replicas' address %q", i+1, got, list)
		}
	}
	for i := range n {
		startHead(i)
	}
	cli := newHAClient(t, list, secret)
	// The replicas elect a leader once a majority runs (a second or two
	// after the second head started).
	if _, err := cli.Call(context.Background(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.KVPut("ha", "start", nil, true, cb) }); err != nil {
		t.Fatalf("the replicated GCS never served: %v", err)
	}
	// The node and the driver are given one replica's address each: they
	// ask it for the others (internal/gcsaddr).
	node := start(t, "node1", app, "node", "--join", addrs[1], "--data-dir", filepath.Join(dir, "node"), "--secret-file", secretFile, "--cpus", "2")
	node.line(t, startTimeout)
	drv := start(t, "driver", app, "drive", "--address", addrs[2], "--secret-file", secretFile)
	if l := drv.line(t, startTimeout); l != "ready" {
		t.Fatalf("driver printed %q, want ready; stderr:\n%s", l, drv.stderr)
	}
	if got := drv.ask(t, "dag"); got == "" {
		t.Fatal("dag answered nothing")
	}

	type write struct {
		key   string
		acked time.Time
	}
	var (
		mu      sync.Mutex
		acked   []write
		unknown []string
		stop    = make(chan struct{})
		stopped = make(chan struct{})
		// ack hears of each acknowledged write, for waitAcks.
		ack = make(chan struct{}, 1<<16)
	)
	// waitAcks waits until n more writes were acknowledged: the GCS
	// serves (again).
	waitAcks := func(n int, what string) {
		t.Helper()
		guard := time.After(commandTimeout)
		for range n {
			select {
			case <-ack:
			case <-guard:
				t.Fatalf("%s: fewer than %d writes acknowledged within %v", what, n, commandTimeout)
			}
		}
	}
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("k%05d", i)
			_, err := cli.Call(context.Background(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.KVPut("ha", key, []byte("v-"+key), true, cb) })
			mu.Lock()
			if err == nil {
				acked = append(acked, write{key, time.Now()})
				select {
				case ack <- struct{}{}:
				default: // nobody waits for this many
				}
			} else {
				unknown = append(unknown, key+": "+err.Error())
			}
			mu.Unlock()
		}
	}()

	var kills []time.Time
	var old []*proc // killed heads, for their logs
	for range 3 {
		waitAcks(500, "before a kill")
		lead, err := cli.Leader()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(addrs, string(lead))
		if i < 0 {
			t.Fatalf("the client sends to %q, not one of the replicas %q", lead, addrs)
		}
		kills = append(kills, time.Now())
		for len(ack) > 0 { // acknowledgements from before the kill
			<-ack
		}
		heads[i].kill(t)
		old = append(old, heads[i])
		// A supervisor restarts the killed head; here once the others
		// serve again without it.
		waitAcks(1, "after a kill")
		startHead(i)
		if got := drv.ask(t, "dag"); got == "" {
			t.Fatal("dag answered nothing after a failover")
		}
	}
	waitAcks(500, "after the last failover")
	close(stop)
	<-stopped

	mu.Lock()
	defer mu.Unlock()
	if len(unknown) > 0 {
		t.Errorf("%d writes failed (the client's deadline is 30 s): %v", len(unknown), unknown[:min(len(unknown), 5)])
	}
	for _, w := range acked {
		r, err := cli.Call(context.Background(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.KVGet("ha", w.key, cb) })
		if err != nil || !r.Found || string(r.Value) != "v-"+w.key {
			t.Fatalf("acknowledged write %s reads back found=%v %q (%v)", w.key, r.Found, r.Value, err)
		}
	}
	// The pause a failover cost the writer: the longest wait between two
	// acknowledgements around the kill (a write in flight may still be
	// acknowledged by the leader as it dies).
	var pauses []string
	for i, k := range kills {
		end := time.Now()
		if i+1 < len(kills) {
			end = kills[i+1]
		}
		longest := time.Duration(0)
		for j := 1; j < len(acked); j++ {
			if acked[j].acked.After(k) && !acked[j].acked.After(end) {
				longest = max(longest, acked[j].acked.Sub(acked[j-1].acked))
			}
		}
		pauses = append(pauses, longest.Round(time.Millisecond).String())
	}
	t.Logf("%d writes acknowledged and read back; the writer's longest wait around each leader kill: %s", len(acked), strings.Join(pauses, ", "))
	if testing.Verbose() {
		for i, k := range kills {
			t.Logf("kill %d at %s", i+1, k.Format("15:04:05.000"))
		}
		for i, h := range append(old, heads...) {
			for _, l := range strings.Split(h.stderr.String(), "\n") {
				if strings.Contains(l, "leads") || strings.Contains(l, "stepping down") {
					t.Logf("head process %d: %s", i+1, l)
				}
			}
		}
	}
}
