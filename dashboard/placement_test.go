package dashboard

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	gnet "github.com/grayrt/gray/net"
)

// fakeRaylet plays a node's raylet as far as placement groups go: it
// registers its node with its resources, all available, and reserves
// every bundle the GCS asks it to.
type fakeRaylet struct {
	gcs core.Addr
	c   *gcs.Client
	srv *rpc.Server
}

func (f *fakeRaylet) Start(env core.Env) {
	f.c = gcs.NewClient(env, f.gcs, gcs.ClientOptions{})
	f.srv = rpc.NewServer(env)
	ack := func(_ core.Addr, _ core.Message, reply func(core.Message, error)) { reply(&proto.Ack{}, nil) }
	for _, m := range []core.Message{&proto.PrepareBundles{}, &proto.CommitBundles{}, &proto.ReturnBundles{}} {
		f.srv.Register(m.MsgType(), ack)
	}
}

func (f *fakeRaylet) Receive(from core.Addr, m core.Message) {
	if !f.c.Handle(from, m) {
		f.srv.Handle(from, m)
	}
}

// groupsHangGuard bounds the wait for the GCS to place the test's group:
// a hang fails, slowness does not (it takes milliseconds).
const groupsHangGuard = time.Minute

// pgFixture is a started GCS holding three placement groups: "train"
// (CREATED on node, two {CPU: 1} bundles, PACK), "needs-gpu" (PENDING and
// infeasible: no node has a GPU; detached) and "gone" (REMOVED).
type pgFixture struct {
	h                     *Server
	node                  core.NodeID
	job                   core.JobID
	train, needsGPU, gone gcs.PlacementGroupInfo
}

func newPGFixture(t *testing.T, token string) *pgFixture {
	t.Helper()
	host := gnet.NewHost(gnet.HostOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { host.Close() })
	// No node may die of a slow test: its groups would move.
	g := gcs.NewServer(gcs.Config{NodeTimeout: time.Hour})
	gaddr, err := host.Add("gcs", g)
	if err != nil {
		t.Fatal(err)
	}
	rl := &fakeRaylet{gcs: gaddr}
	raddr, err := host.Add("raylet", rl)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	f := &pgFixture{node: core.NewNodeID(r), job: core.JobIDFromInt(3)}
	cpu := core.MustResources(core.CPU, core.Units(1))
	f.train = gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(f.job, r), Namespace: "ns", Name: "train", Strategy: proto.PlacementPack,
		Bundles: []core.Resources{cpu, cpu}, Owner: "driver"}
	f.needsGPU = gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(f.job, r), Namespace: "ns", Name: "needs-gpu", Strategy: proto.PlacementStrictSpread,
		Bundles: []core.Resources{core.MustResources(core.GPU, core.Units(1))}, Detached: true, Owner: "driver"}
	f.gone = gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(f.job, r), Namespace: "ns", Name: "gone", Strategy: proto.PlacementSpread,
		Bundles: []core.Resources{cpu}, Owner: "driver"}

	// Register the node, then create the groups and remove "gone", one
	// call after another on the raylet's loop.
	total := core.MustResources(core.CPU, core.Units(4))
	done := make(chan error, 1)
	steps := []func(cb func(gcs.Reply, error)){
		func(cb func(gcs.Reply, error)) { rl.c.RegisterNode(f.node, raddr, total, cb) },
		func(cb func(gcs.Reply, error)) { rl.c.HeartbeatWithLoad(f.node, total, nil, cb) },
		func(cb func(gcs.Reply, error)) { rl.c.CreatePlacementGroup(f.train, cb) },
		func(cb func(gcs.Reply, error)) { rl.c.CreatePlacementGroup(f.needsGPU, cb) },
		func(cb func(gcs.Reply, error)) { rl.c.CreatePlacementGroup(f.gone, cb) },
		func(cb func(gcs.Reply, error)) { rl.c.RemovePlacementGroup(f.gone.ID, cb) },
	}
	var run func(i int)
	run = func(i int) {
		if i == len(steps) {
			done <- nil
			return
		}
		steps[i](func(_ gcs.Reply, err error) {
			if err != nil {
				done <- err
				return
			}
			run(i + 1)
		})
	}
	if err := host.Do(raddr, func() { run(0) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("setting up the groups: %v", err)
		}
	case <-time.After(groupsHangGuard):
		t.Fatalf("setting up the groups hung for %v", groupsHangGuard)
	}

	src := Source{GCS: func(fn func(*gcs.Server)) error { return host.Do(gaddr, func() { fn(g) }) }}
	f.h = &Server{opts: Options{Token: token, Source: src, ReadTimeout: 5 * time.Second}}
	// Wait for the two-phase reservation of "train".
	deadline := time.Now().Add(groupsHangGuard)
	for {
		var st gcs.PlacementGroupState
		if err := f.h.readGCS(t.Context(), func(g *gcs.Server) {
			for _, p := range g.PlacementGroups() {
				if p.ID == f.train.ID {
					st = p.State
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if st == gcs.PlacementCreated {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("group train is %v after %v, want CREATED", st, groupsHangGuard)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get serves target and decodes its data.result into out.
func get(t *testing.T, h http.Handler, target string, out any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200: %s", target, rec.Code, rec.Body)
	}
	var env Response[json.RawMessage]
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || !env.Result {
		t.Fatalf("GET %s: %v, envelope %s", target, err, rec.Body)
	}
	if err := json.Unmarshal(env.Data.Result, out); err != nil {
		t.Fatalf("GET %s: %v: %s", target, err, env.Data.Result)
	}
}

// TestPlacementGroupsAPI: /api/v0/placement_groups lists every group as
// Ray's state API does, each bundle with its resources and node ("" while
// not placed), the reason a pending group waits; /api/v0/cluster counts
// them and lists the pending ones as demand; /metrics counts them.
func TestPlacementGroupsAPI(t *testing.T) {
	f := newPGFixture(t, "")
	h := f.h.Handler()
	hexID := func(id core.PlacementGroupID) string { return hex.EncodeToString(id[:]) }
	node := hex.EncodeToString(f.node[:])
	job := hex.EncodeToString(f.job[:])

	var list ListResult[PlacementGroupView]
	get(t, h, "/api/v0/placement_groups", &list)
	if list.Total != 3 || len(list.Result) != 3 {
		t.Fatalf("/api/v0/placement_groups = %+v, want 3 groups", list)
	}
	byName := map[string]PlacementGroupView{}
	for _, v := range list.Result {
		byName[v.Name] = v
	}
	cpu := map[string]float64{"CPU": 1}
	want := map[string]PlacementGroupView{
		"train": {PlacementGroupID: hexID(f.train.ID), Name: "train", Namespace: "ns", CreatorJobID: job, State: "CREATED", Strategy: "PACK",
			Bundles: []BundleView{{Index: 0, Resources: cpu, NodeID: node}, {Index: 1, Resources: cpu, NodeID: node}}},
		"needs-gpu": {PlacementGroupID: hexID(f.needsGPU.ID), Name: "needs-gpu", Namespace: "ns", CreatorJobID: job, State: "PENDING",
			Strategy: "STRICT_SPREAD", Bundles: []BundleView{{Index: 0, Resources: map[string]float64{"GPU": 1}, NodeID: ""}}, Detached: true,
			Infeasible: true},
		"gone": {PlacementGroupID: hexID(f.gone.ID), Name: "gone", Namespace: "ns", CreatorJobID: job, State: "REMOVED", Strategy: "SPREAD",
			Bundles: []BundleView{{Index: 0, Resources: cpu, NodeID: ""}}},
	}
	for name, w := range want {
		got := byName[name]
		if name == "needs-gpu" {
			if got.Reason == "" {
				t.Errorf("pending group %s has no reason", name)
			}
			got.Reason = "" // checked apart: its wording is the GCS's
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("group %s = %+v, want %+v", name, got, w)
		}
	}
	// Unplaced bundles say so with "", not by leaving node_id out.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v0/placement_groups", nil))
	if !strings.Contains(rec.Body.String(), `"node_id":""`) {
		t.Errorf("an unplaced bundle's node_id is missing: %s", rec.Body)
	}

	var c Cluster
	get(t, h, "/api/v0/cluster", &c)
	if w := map[string]int{"PENDING": 1, "CREATED": 1, "RESCHEDULING": 0, "REMOVED": 1}; !reflect.DeepEqual(c.PlacementGroups, w) {
		t.Errorf("cluster placement_groups_by_state = %v, want %v", c.PlacementGroups, w)
	}
	if len(c.PendingGroups) != 1 {
		t.Fatalf("cluster pending_placement_groups = %+v, want needs-gpu only", c.PendingGroups)
	}
	if p := c.PendingGroups[0]; p.Shape != "{GPU: 1} * 1 (STRICT_SPREAD)" || p.Count != 1 || !p.Infeasible || p.Reason != byName["needs-gpu"].Reason {
		t.Errorf("pending group demand = %+v, want {GPU: 1} * 1 (STRICT_SPREAD), 1, infeasible with the group's reason", p)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, w := range []string{`gray_placement_groups{state="CREATED"} 1`, `gray_placement_groups{state="PENDING"} 1`,
		`gray_placement_groups{state="REMOVED"} 1`, `gray_placement_groups{state="RESCHEDULING"} 0`} {
		if !strings.Contains(rec.Body.String(), w) {
			t.Errorf("/metrics lacks %q:\n%s", w, rec.Body)
		}
	}
}

// TestPlacementGroupsToken: the endpoint needs the token like the others.
func TestPlacementGroupsToken(t *testing.T) {
	h := newTestServer("s3cret").Handler()
	for _, tc := range []struct {
		header string
		want   int
	}{{"", http.StatusUnauthorized}, {"Bearer nope", http.StatusUnauthorized}, {"Bearer s3cret", http.StatusOK}} {
		req := httptest.NewRequest("GET", "/api/v0/placement_groups", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET /api/v0/placement_groups with %q = %d, want %d", tc.header, rec.Code, tc.want)
		}
	}
}

// TestPendingGroups: waiting groups (PENDING or RESCHEDULING) are summed
// by shape, identical bundles counted as Ray prints them; placed and
// removed ones are not demand; infeasible ones come last.
func TestPendingGroups(t *testing.T) {
	cpu, gpu := core.MustResources(core.CPU, core.Units(1)), core.MustResources(core.GPU, core.Units(1))
	group := func(st gcs.PlacementGroupState, s proto.PlacementStrategy, infeasible bool, reason string, bundles ...core.Resources) gcs.PlacementGroupInfo {
		return gcs.PlacementGroupInfo{State: st, Strategy: s, Infeasible: infeasible, Reason: reason, Bundles: bundles}
	}
	groups := []gcs.PlacementGroupInfo{
		group(gcs.PlacementPending, proto.PlacementStrictSpread, true, "no node has a GPU", gpu, gpu),
		group(gcs.PlacementPending, proto.PlacementStrictSpread, false, "", cpu, cpu, cpu),
		group(gcs.PlacementCreated, proto.PlacementStrictSpread, false, "", cpu, cpu, cpu),
		group(gcs.PlacementRescheduling, proto.PlacementStrictSpread, false, "", cpu, cpu, cpu),
		group(gcs.PlacementRemoved, proto.PlacementPack, false, "its job finished", cpu),
		group(gcs.PlacementPending, proto.PlacementPack, false, "", cpu, gpu, cpu),
		group(gcs.PlacementPending, proto.PlacementStrictSpread, true, "other words", gpu, gpu),
	}
	got := PendingGroups(groups)
	want := []GroupDemand{
		{Shape: "{CPU: 1} * 2, {GPU: 1} * 1 (PACK)", Strategy: "PACK", Count: 1},
		{Shape: "{CPU: 1} * 3 (STRICT_SPREAD)", Strategy: "STRICT_SPREAD", Count: 2},
		{Shape: "{GPU: 1} * 2 (STRICT_SPREAD)", Strategy: "STRICT_SPREAD", Count: 2, Infeasible: true, Reason: "no node has a GPU"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PendingGroups = %+v, want %+v", got, want)
	}
	if got := PendingGroups(groups[2:3]); len(got) != 0 {
		t.Errorf("PendingGroups(a CREATED group) = %+v, want none", got)
	}
}
