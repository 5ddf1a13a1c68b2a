package gray_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/grayrt/gray"
)

var joinedSquare = gray.Task1("test.joinedSquare", func(_ context.Context, x int) (int, error) { return x * x, nil })

// TestJoinedDriverTasksEndFinished: a driver joins a head, runs 16 tasks
// and shuts down; right after, the head's task table holds all 16
// FINISHED. Before, their last transitions waited up to a second in the
// driver's event buffer and died with it: a few stayed RUNNING (found
// with gray summary tasks after a job).
func TestJoinedDriverTasksEndFinished(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	dir := t.TempDir()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := gray.StartNode(ctx, gray.NodeOptions{Head: true, DataDir: filepath.Join(dir, "head"),
		ClusterSecret: []byte(hex.EncodeToString(secret)), Resources: map[string]float64{"CPU": 2},
		DashboardListen: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	rt, err := gray.Init(ctx, gray.WithAddress(node.GCSAddress()), gray.WithSecretFile(secretFile), gray.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]gray.Ref[int], 16)
	for i := range refs {
		refs[i] = joinedSquare.Remote(ctx, gray.V(i))
	}
	if _, err := gray.GetAll(ctx, refs); err != nil {
		t.Fatal(err)
	}
	rt.Shutdown()

	resp, err := http.Get(node.DashboardURL() + "api/v0/tasks?name=test.joinedSquare")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data struct {
			Result struct {
				Result []struct {
					State string `json:"state"`
				} `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, task := range env.Data.Result.Result {
		states[task.State]++
	}
	if states["FINISHED"] != 16 || len(states) != 1 {
		t.Errorf("the task table right after the driver's Shutdown: %v, want 16 FINISHED", states)
	}
}

// TestDashboardPortTaken: a head whose dashboard address is taken fails
// to start, unless its dashboard is optional (grayd's default address):
// then it runs without one. Two heads started at once on one host raced
// for the default port, and the second exited.
func TestDashboardPortTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(optional bool) (*gray.Node, error) {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		return gray.StartNode(ctx, gray.NodeOptions{Head: true, DataDir: t.TempDir(), ClusterSecret: []byte(hex.EncodeToString(secret)),
			Resources: map[string]float64{"CPU": 1}, DashboardListen: taken.Addr().String(), DashboardOptional: optional, Logger: log})
	}
	if n, err := start(false); err == nil {
		n.Close()
		t.Errorf("a head started with its dashboard's address taken")
	}
	n, err := start(true)
	if err != nil {
		t.Fatalf("an optional dashboard's taken address stopped the head: %v", err)
	}
	defer n.Close()
	if n.DashboardURL() != "" {
		t.Errorf("DashboardURL = %q, want none", n.DashboardURL())
	}
}
