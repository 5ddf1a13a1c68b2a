package gcs_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// kvScript adds a script exercising every KV operation to h and returns the
// judge of its results, so that the same script can prove the correct
// server right and a buggy one wrong.
func kvScript(h *harness) func() *checks {
	put := func(ns, k, v string, overwrite bool) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVPut(ns, k, []byte(v), overwrite, f) }
	}
	get := func(ns, k string) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVGet(ns, k, f) }
	}
	cas := func(k string, expected []byte, exists bool, v string) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVCAS("ns", k, expected, exists, []byte(v), f) }
	}
	keys := func(prefix string) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVKeys("ns", prefix, f) }
	}
	exists := func(k string) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVExists("ns", k, f) }
	}
	del := func(k string) func(*gcs.Client, cb) {
		return func(c *gcs.Client, f cb) { c.KVDel("ns", k, f) }
	}

	getMissing := h.op(0, "get missing", get("ns", "a"))
	putNew := h.op(0, "put new", put("ns", "a", "1", false))
	getNew := h.op(0, "get after put", get("ns", "a"))
	putKeep := h.op(0, "put existing without overwrite", put("ns", "a", "2", false))
	getKept := h.op(0, "get after refused put", get("ns", "a"))
	putOver := h.op(0, "put existing with overwrite", put("ns", "a", "3", true))
	getOver := h.op(0, "get after overwrite", get("ns", "a"))
	getOtherNS := h.op(0, "get in another namespace", get("other", "a"))
	putOtherNS := h.op(0, "put in another namespace", put("other", "a", "x", false))
	existsYes := h.op(0, "exists present", exists("a"))
	existsNo := h.op(0, "exists absent", exists("zz"))
	casWrong := h.op(0, "cas with wrong expected value", cas("a", []byte("1"), true, "4"))
	casRight := h.op(0, "cas with right expected value", cas("a", []byte("3"), true, "4"))
	getCAS := h.op(0, "get after cas", get("ns", "a"))
	casAbsentButPresent := h.op(0, "cas expecting absence of a present key", cas("a", nil, false, "5"))
	casCreate := h.op(0, "cas creating an absent key", cas("b", nil, false, "b1"))
	casPresentButAbsent := h.op(0, "cas expecting presence of an absent key", cas("c", []byte("x"), true, "c1"))
	putEmpty := h.op(0, "put empty value", put("ns", "e", "", false))
	getEmpty := h.op(0, "get empty value", get("ns", "e"))
	keysAll := h.op(0, "keys all", keys(""))
	keysB := h.op(0, "keys with prefix", keys("b"))
	keysNone := h.op(0, "keys matching nothing", keys("q"))
	delYes := h.op(0, "del present", del("a"))
	delNo := h.op(0, "del absent", del("a"))
	getDeleted := h.op(0, "get after del", get("ns", "a"))
	keysAfter := h.op(0, "keys after del", keys(""))
	putAfterDel := h.op(0, "put after del", put("ns", "a", "6", false))
	getAfterDel := h.op(0, "get after put after del", get("ns", "a"))

	return func() *checks {
		c := &checks{}
		value := func(r *res, want string) {
			c.check(r.ok() && r.r.Found && string(r.r.Value) == want, "%v, want value %q", r, want)
		}
		flag := func(r *res, got, want bool) {
			c.check(r.ok() && got == want, "%v, want %v", r, want)
		}
		c.check(getMissing.ok() && !getMissing.r.Found, "%v, want not found", getMissing)
		flag(putNew, putNew.r.Added, true)
		value(getNew, "1")
		flag(putKeep, putKeep.r.Added, false)
		value(getKept, "1")
		flag(putOver, putOver.r.Added, false)
		value(getOver, "3")
		c.check(getOtherNS.ok() && !getOtherNS.r.Found, "%v, want not found (namespaces are separate)", getOtherNS)
		flag(putOtherNS, putOtherNS.r.Added, true)
		flag(existsYes, existsYes.r.Found, true)
		flag(existsNo, existsNo.r.Found, false)
		flag(casWrong, casWrong.r.Swapped, false)
		flag(casRight, casRight.r.Swapped, true)
		value(getCAS, "4")
		flag(casAbsentButPresent, casAbsentButPresent.r.Swapped, false)
		flag(casCreate, casCreate.r.Swapped, true)
		flag(casPresentButAbsent, casPresentButAbsent.r.Swapped, false)
		flag(putEmpty, putEmpty.r.Added, true)
		c.check(getEmpty.ok() && getEmpty.r.Found && len(getEmpty.r.Value) == 0, "%v, want found and empty", getEmpty)
		c.check(keysAll.ok() && slices.Equal(keysAll.r.Keys, []string{"a", "b", "e"}), "%v, want keys [a b e]", keysAll)
		c.check(keysB.ok() && slices.Equal(keysB.r.Keys, []string{"b"}), "%v, want keys [b]", keysB)
		c.check(keysNone.ok() && len(keysNone.r.Keys) == 0, "%v, want no keys", keysNone)
		flag(delYes, delYes.r.Deleted, true)
		flag(delNo, delNo.r.Deleted, false)
		c.check(getDeleted.ok() && !getDeleted.r.Found, "%v, want not found", getDeleted)
		c.check(keysAfter.ok() && slices.Equal(keysAfter.r.Keys, []string{"b", "e"}), "%v, want keys [b e]", keysAfter)
		flag(putAfterDel, putAfterDel.r.Added, true)
		value(getAfterDel, "6")
		return c
	}
}

func TestKVSemantics(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	judge := kvScript(h)
	h.mustPass()
	judge().report(t)
}

// TestKVCatchesStaleRead runs the KV script against the planted stale-read
// bug: the checks must notice.
func TestKVCatchesStaleRead(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: gcs.Config{Bug: gcs.BugStaleRead}})
	judge := kvScript(h)
	h.run()
	if c := judge(); len(c.errs) == 0 {
		t.Fatal("the KV checks passed against a server with stale reads")
	} else {
		t.Logf("caught: %s", c.errs[0])
	}
}

// TestBadInputIsInvalidArgument sends bad requests through the client
// (which refuses them before sending) and straight into the server's
// Receive (which must answer InvalidArgument, never panic).
func TestBadInputIsInvalidArgument(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	long := func(n int) string { return strings.Repeat("k", n) }
	viaClient := []*res{
		h.op(0, "empty key", func(c *gcs.Client, f cb) { c.KVPut("ns", "", []byte("v"), false, f) }),
		h.op(0, "key over 1 KiB", func(c *gcs.Client, f cb) { c.KVGet("ns", long(gcs.KeySizeMax+1), f) }),
		h.op(0, "value over 1 MiB", func(c *gcs.Client, f cb) { c.KVPut("ns", "k", make([]byte, gcs.ValueSizeMax+1), true, f) }),
		h.op(0, "namespace over 256 B", func(c *gcs.Client, f cb) { c.KVDel(long(gcs.NamespaceSizeMax+1), "k", f) }),
		h.op(0, "cas expected value without expect_exists", func(c *gcs.Client, f cb) { c.KVCAS("ns", "k", []byte("x"), false, nil, f) }),
		h.op(0, "nil node id", func(c *gcs.Client, f cb) { c.RegisterNode(core.NodeID{}, "r1", nil, f) }),
		h.op(0, "node without address", func(c *gcs.Client, f cb) { c.RegisterNode(nodeID(1), "", nil, f) }),
		h.op(0, "unsorted resources", func(c *gcs.Client, f cb) {
			c.RegisterNode(nodeID(1), "r1", core.Resources{{Name: "b", Amount: 1}, {Name: "a", Amount: 1}}, f)
		}),
		h.op(0, "negative resources", func(c *gcs.Client, f cb) {
			c.HeartbeatWithResources(nodeID(1), core.Resources{{Name: "CPU", Amount: -1}}, f)
		}),
		h.op(0, "job without driver", func(c *gcs.Client, f cb) { c.AddJob("", nil, f) }),
		h.op(0, "nil actor", func(c *gcs.Client, f cb) { c.RegisterActor(core.ActorID{}, "ns", "x", 0, f) }),
		h.op(0, "max restarts below -1", func(c *gcs.Client, f cb) { c.RegisterActor(actorID(job1, 1), "ns", "", -2, f) }),
		h.op(0, "update to DEPENDENCIES_UNREADY", func(c *gcs.Client, f cb) {
			c.UpdateActor(actorID(job1, 1), gcs.ActorDependenciesUnready, core.NodeID{}, "", "", f)
		}),
		h.op(0, "ALIVE without node", func(c *gcs.Client, f cb) {
			c.UpdateActor(actorID(job1, 1), gcs.ActorAlive, core.NodeID{}, "", "", f)
		}),
		h.op(0, "bad state value", func(c *gcs.Client, f cb) { c.UpdateActor(actorID(job1, 1), 99, nodeID(1), "", "", f) }),
		h.op(0, "named lookup without name", func(c *gcs.Client, f cb) { c.GetNamedActor("ns", "", f) }),
	}
	const client = "direct"
	viaServer := []*rawReply{
		h.direct(0, "direct empty key", &gcs.KVPut{Hdr: gcs.Hdr{Client: client, Seq: 1}, Namespace: "ns"}, client, 1),
		h.direct(0, "direct seq 0", &gcs.KVGet{Hdr: gcs.Hdr{Client: client}, Key: "k"}, client, 0),
		h.direct(0, "direct ack above seq", &gcs.KVGet{Hdr: gcs.Hdr{Client: client, Seq: 2, AckBelow: 3}, Key: "k"}, client, 2),
		h.direct(0, "direct huge value", &gcs.KVPut{Hdr: gcs.Hdr{Client: client, Seq: 3}, Key: "k", Value: make([]byte, gcs.ValueSizeMax+1)}, client, 3),
		h.direct(0, "direct actor of another job", &gcs.RegisterActor{Hdr: gcs.Hdr{Client: client, Seq: 4}, Actor: actorID(job1, 1), Job: job2}, client, 4),
		h.direct(0, "direct unknown channel", &gcs.Subscribe{Hdr: gcs.Hdr{Client: client, Seq: 5}, Channels: []string{"tasks"}}, client, 5),
		h.direct(0, "direct duplicate channel", &gcs.Subscribe{Hdr: gcs.Hdr{Client: client, Seq: 6}, Channels: []string{"node", "node"}}, client, 6),
		h.direct(0, "direct bad actor transition value", &gcs.UpdateActor{Hdr: gcs.Hdr{Client: client, Seq: 7}, Actor: actorID(job1, 1), State: 0}, client, 7),
		h.direct(0, "direct anonymous client", &gcs.GetNodes{Hdr: gcs.Hdr{Seq: 8}}, "", 8),
	}
	// Nothing of the above may have changed state.
	nodes := h.op(0, "nodes after bad input", func(c *gcs.Client, f cb) { c.GetNodes(f) })
	keys := h.op(0, "keys after bad input", func(c *gcs.Client, f cb) { c.KVKeys("ns", "", f) })
	h.mustPass()
	for _, r := range viaClient {
		var ge *rpc.Error
		if !r.done || !errors.Is(r.err, gcs.ErrInvalid) || !errors.As(r.err, &ge) || ge.Code != rpc.CodeInvalid {
			t.Errorf("%v, want ErrInvalid", r)
		}
	}
	for _, r := range viaServer {
		if r.r == nil || r.r.Code != rpc.CodeInvalid || r.r.Err == "" {
			t.Errorf("%s: reply %v, want InvalidArgument with a message", r.name, r.r)
		}
	}
	if !nodes.ok() || len(nodes.r.Nodes) != 0 || !keys.ok() || len(keys.r.Keys) != 0 {
		t.Errorf("bad input changed state: %v, %v", nodes, keys)
	}
}

// TestKVKeysLimit lists a prefix with more matches than one reply may hold.
func TestKVKeysLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,001 keys")
	}
	h := newHarness(t, harnessOpts{})
	const n = gcs.KeysPerReplyMax + 1
	for chunk := 0; chunk < n; chunk += 500 {
		h.add(fmt.Sprintf("put keys %d..", chunk), func(done func()) {
			left := min(500, n-chunk)
			for i := chunk; i < chunk+min(500, n-chunk); i++ {
				h.hosts[0].c.KVPut("big", fmt.Sprintf("k%05d", i), nil, false, func(r gcs.Reply, err error) {
					if err != nil {
						h.errorf("put %d: %v", i, err)
					}
					if left--; left == 0 {
						done()
					}
				})
			}
		})
	}
	over := h.op(0, "keys over the limit", func(c *gcs.Client, f cb) { c.KVKeys("big", "k", f) })
	under := h.op(0, "keys under the limit", func(c *gcs.Client, f cb) { c.KVKeys("big", "k0", f) })
	h.mustPass()
	if !errors.Is(over.err, gcs.ErrInvalid) || !strings.Contains(over.err.Error(), "longer prefix") {
		t.Errorf("%v, want ErrInvalid asking for a longer prefix", over)
	}
	if !under.ok() || len(under.r.Keys) != 10_000 || !slices.IsSorted(under.r.Keys) {
		t.Errorf("keys under the limit: %d keys (sorted %v), err %v; want 10000 sorted", len(under.r.Keys), slices.IsSorted(under.r.Keys), under.err)
	}
}

// TestLargeKVValuesLiveInTheBulkTable moves values between the KV table
// and the bulk table (small to large, large to small, deletes, and a
// large value that an older version left in the KV table), crashes the
// GCS twice and checks that every value reads back as last written, that
// deleted ones stay deleted, and where each record is stored.
func TestLargeKVValuesLiveInTheBulkTable(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	small := func(c byte) []byte { return bytes.Repeat([]byte{c}, 100) }
	large := func(c byte) []byte { return bytes.Repeat([]byte{c}, gcs.BulkMin) }
	put := func(k string, v []byte) {
		h.op(0, "put "+k, func(c *gcs.Client, f cb) { c.KVPut("ns", k, v, true, f) })
	}
	del := func(k string) {
		h.op(0, "del "+k, func(c *gcs.Client, f cb) { c.KVDel("ns", k, f) })
	}
	tables := func(name string, want map[byte]int) {
		h.action("count "+name, func() {
			got := gcs.StoredTables(h.server())
			for _, tb := range []byte{gcs.TableBulk, gcs.TableKV} {
				if got[tb] != want[tb] {
					h.errorf("%s: %d records in table %q, want %d", name, got[tb], tb, want[tb])
				}
			}
		})
	}
	put("small", small('a'))
	put("large", large('b'))
	put("grows", small('c'))
	put("grows", large('d'))
	put("shrinks", large('e'))
	put("shrinks", small('f'))
	put("gone-large", large('g'))
	del("gone-large")
	put("gone-small", small('h'))
	del("gone-small")
	h.action("an older version's large value", func() { gcs.PutLegacyKV(h.server(), "ns", "legacy", large('i')) })
	h.action("another", func() { gcs.PutLegacyKV(h.server(), "ns", "legacy-gone", large('j')) })
	tables("before the crash", map[byte]int{gcs.TableBulk: 2, gcs.TableKV: 4})
	h.crashGCS("upgrade")
	put("legacy", large('k'))
	del("legacy-gone")
	tables("after the moves", map[byte]int{gcs.TableBulk: 3, gcs.TableKV: 2})
	h.crashGCS("again")
	want := map[string][]byte{"small": small('a'), "large": large('b'), "grows": large('d'), "shrinks": small('f'), "legacy": large('k')}
	gets := map[string]*res{}
	for _, k := range []string{"small", "large", "grows", "shrinks", "legacy", "gone-large", "gone-small", "legacy-gone"} {
		gets[k] = h.op(0, "get "+k, func(c *gcs.Client, f cb) { c.KVGet("ns", k, f) })
	}
	h.mustPass()
	for k, g := range gets {
		switch w, ok := want[k]; {
		case !g.ok():
			t.Errorf("get %s: %v", k, g.err)
		case g.r.Found != ok || !bytes.Equal(g.r.Value, w):
			t.Errorf("get %s after restarts: found %v with %d bytes, want found %v with %d", k, g.r.Found, len(g.r.Value), ok, len(w))
		}
	}
}
