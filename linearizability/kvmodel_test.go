package linearizability

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestKVStep(t *testing.T) {
	absent := kvState{}
	holds := func(v string) kvState { return kvState{value: v, present: true} }
	tests := []struct {
		name   string
		state  kvState
		in     KVInput
		out    any
		wantOK bool
		want   kvState
	}{
		{"get absent", absent, get("k"), KVOutput{}, true, absent},
		{"get absent claims found", absent, get("k"), found(""), false, absent},
		{"get present", holds("v"), get("k"), found("v"), true, holds("v")},
		{"get present wrong value", holds("v"), get("k"), found("w"), false, holds("v")},
		{"get present claims absent", holds("v"), get("k"), KVOutput{}, false, holds("v")},
		{"get absent ignores value", absent, get("k"), KVOutput{Value: "junk"}, true, absent},
		{"put absent adds", absent, put("k", "v"), KVOutput{Added: true}, true, holds("v")},
		{"put absent must report added", absent, put("k", "v"), KVOutput{}, false, holds("v")},
		{"put overwrite replaces", holds("a"), put("k", "b"), KVOutput{}, true, holds("b")},
		{"put overwrite is not an add", holds("a"), put("k", "b"), KVOutput{Added: true}, false, holds("b")},
		{"put no-overwrite keeps", holds("a"), KVInput{Op: KVPut, Key: "k", Value: "b"}, KVOutput{}, true, holds("a")},
		{"put no-overwrite absent adds", absent, KVInput{Op: KVPut, Key: "k", Value: "b"}, KVOutput{Added: true}, true, holds("b")},
		{"delete present", holds("a"), KVInput{Op: KVDelete, Key: "k"}, KVOutput{Deleted: true}, true, absent},
		{"delete absent", absent, KVInput{Op: KVDelete, Key: "k"}, KVOutput{}, true, absent},
		{"delete absent claims deleted", absent, KVInput{Op: KVDelete, Key: "k"}, KVOutput{Deleted: true}, false, absent},
		{"exists present", holds(""), KVInput{Op: KVExists, Key: "k"}, KVOutput{Found: true}, true, holds("")},
		{"exists absent claims found", absent, KVInput{Op: KVExists, Key: "k"}, KVOutput{Found: true}, false, absent},
		{"unknown put applies", absent, put("k", "v"), nil, true, holds("v")},
		{"unknown get accepted", holds("v"), get("k"), nil, true, holds("v")},
		{"unknown delete applies", holds("v"), KVInput{Op: KVDelete, Key: "k"}, nil, true, absent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, next := KVModel.Step(tt.state, tt.in, tt.out)
			if ok != tt.wantOK || next != tt.want {
				t.Errorf("Step(%+v, %+v, %+v) = (%v, %+v), want (%v, %+v)", tt.state, tt.in, tt.out, ok, next, tt.wantOK, tt.want)
			}
		})
	}
}

func TestKVStepCAS(t *testing.T) {
	absent := kvState{}
	holds := func(v string) kvState { return kvState{value: v, present: true} }
	cas := func(expectExists bool, expected, value string) KVInput {
		return KVInput{Op: KVCAS, Key: "k", ExpectExists: expectExists, Expected: expected, Value: value}
	}
	tests := []struct {
		name        string
		state       kvState
		in          KVInput
		wantSwapped bool
		want        kvState
	}{
		{"expect value, matches", holds("a"), cas(true, "a", "b"), true, holds("b")},
		{"expect value, differs", holds("x"), cas(true, "a", "b"), false, holds("x")},
		{"expect value, absent", absent, cas(true, "a", "b"), false, absent},
		{"expect empty value, absent", absent, cas(true, "", "b"), false, absent},
		{"expect empty value, holds empty", holds(""), cas(true, "", "b"), true, holds("b")},
		{"expect absent, absent", absent, cas(false, "", "b"), true, holds("b")},
		{"expect absent, present", holds("a"), cas(false, "", "b"), false, holds("a")},
		{"expect absent ignores expected", absent, cas(false, "a", "b"), true, holds("b")},
		{"expect absent ignores matching expected", holds("a"), cas(false, "a", "b"), false, holds("a")},
		{"swap to same value", holds("a"), cas(true, "a", "a"), true, holds("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, swapped := range []bool{false, true} {
				ok, next := KVModel.Step(tt.state, tt.in, KVOutput{Swapped: swapped})
				wantOK := swapped == tt.wantSwapped
				if ok != wantOK || next != tt.want {
					t.Errorf("Step(%+v, %+v, swapped=%v) = (%v, %+v), want (%v, %+v)", tt.state, tt.in, swapped, ok, next, wantOK, tt.want)
				}
			}
		})
	}
}

func TestCheckKV(t *testing.T) {
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want Outcome
	}{
		{"empty", nil, Ok},
		{"sequential", []porcupine.Operation{
			op(0, 0, 10, get("x"), KVOutput{}),
			op(0, 20, 30, put("x", "1"), KVOutput{Added: true}),
			op(1, 40, 50, get("x"), found("1")),
			op(1, 60, 70, KVInput{Op: KVCAS, Key: "x", ExpectExists: true, Expected: "1", Value: "2"}, KVOutput{Swapped: true}),
			op(0, 80, 90, KVInput{Op: KVExists, Key: "x"}, KVOutput{Found: true}),
			op(0, 100, 110, KVInput{Op: KVDelete, Key: "x"}, KVOutput{Deleted: true}),
			op(1, 120, 130, get("x"), KVOutput{}),
		}, Ok},
		{"concurrent read sees old or new", []porcupine.Operation{
			op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
			op(1, 20, 100, put("x", "2"), KVOutput{}),
			op(2, 30, 40, get("x"), found("2")),
			op(3, 50, 60, get("x"), found("2")),
			op(4, 25, 35, get("x"), found("1")),
		}, Ok},
		{"concurrent puts in either order", []porcupine.Operation{
			op(0, 0, 100, put("x", "a"), KVOutput{}),
			op(1, 0, 100, put("x", "b"), KVOutput{Added: true}),
			op(2, 110, 120, get("x"), found("a")),
		}, Ok},
		{"namespaces are separate keys", []porcupine.Operation{
			op(0, 0, 10, KVInput{Op: KVPut, Namespace: "a", Key: "x", Value: "1"}, KVOutput{Added: true}),
			op(1, 20, 30, KVInput{Op: KVPut, Namespace: "b", Key: "x", Value: "2"}, KVOutput{Added: true}),
			op(2, 40, 50, KVInput{Op: KVGet, Namespace: "a", Key: "x"}, found("1")),
		}, Ok},
		{"stale read after acknowledged put", []porcupine.Operation{
			op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
			op(0, 20, 30, put("x", "2"), KVOutput{}),
			op(1, 40, 50, get("x"), found("1")),
		}, Illegal},
		{"lost acknowledged write", []porcupine.Operation{
			op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
			op(1, 20, 30, get("x"), KVOutput{}),
		}, Illegal},
		{"value read before it was written", []porcupine.Operation{
			op(1, 0, 10, get("x"), found("1")),
			op(0, 20, 30, put("x", "1"), KVOutput{Added: true}),
		}, Illegal},
		{"two cas from absent both swap", []porcupine.Operation{
			op(0, 0, 100, KVInput{Op: KVCAS, Key: "x", Value: "a"}, KVOutput{Swapped: true}),
			op(1, 0, 100, KVInput{Op: KVCAS, Key: "x", Value: "b"}, KVOutput{Swapped: true}),
		}, Illegal},
		{"two cas from absent one swaps", []porcupine.Operation{
			op(0, 0, 100, KVInput{Op: KVCAS, Key: "x", Value: "a"}, KVOutput{Swapped: true}),
			op(1, 0, 100, KVInput{Op: KVCAS, Key: "x", Value: "b"}, KVOutput{}),
			op(2, 110, 120, get("x"), found("a")),
		}, Ok},
		{"unknown put seen by later read", []porcupine.Operation{
			unknownOp(0, 0, put("x", "1")),
			op(1, 20, 30, get("x"), found("1")),
		}, Ok},
		{"unknown put not seen by later read", []porcupine.Operation{
			unknownOp(0, 0, put("x", "1")),
			op(1, 20, 30, get("x"), KVOutput{}),
		}, Ok},
		{"unknown put seen late", []porcupine.Operation{
			unknownOp(0, 0, put("x", "1")),
			op(1, 20, 30, get("x"), KVOutput{}),
			op(1, 1000, 1010, get("x"), found("1")),
		}, Ok},
		{"unknown put seen then unseen", []porcupine.Operation{
			unknownOp(0, 0, put("x", "1")),
			op(1, 20, 30, get("x"), found("1")),
			op(1, 40, 50, get("x"), KVOutput{}),
		}, Illegal},
		{"unknown put seen before its call", []porcupine.Operation{
			op(1, 0, 10, get("x"), found("1")),
			unknownOp(0, 20, put("x", "1")),
		}, Illegal},
		{"unknown delete may or may not apply", []porcupine.Operation{
			op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
			unknownOp(0, 20, KVInput{Op: KVDelete, Key: "x"}),
			op(1, 30, 40, get("x"), found("1")),
			op(1, 50, 60, get("x"), KVOutput{}),
		}, Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(KVModel, tt.ops, checkTimeout)
			if res.Outcome != tt.want {
				t.Errorf("Check(%d ops) = %v, want %v", len(tt.ops), res.Outcome, tt.want)
			}
			if res.Ops != len(tt.ops) {
				t.Errorf("Check(%d ops).Ops = %d, want %d", len(tt.ops), res.Ops, len(tt.ops))
			}
		})
	}
}

func TestWriteHTMLStaleRead(t *testing.T) {
	ops := []porcupine.Operation{
		op(0, 0, 10, put("x", "1"), KVOutput{Added: true}),
		op(0, 20, 30, put("x", "2"), KVOutput{}),
		op(1, 40, 50, get("x"), found("1")),
		op(2, 0, 5, put("y", "1"), KVOutput{Added: true}),
		unknownOp(2, 60, put("y", "2")),
	}
	res := Check(KVModel, ops, checkTimeout)
	if res.Outcome != Illegal {
		t.Fatalf("Check(stale read) = %v, want %v", res.Outcome, Illegal)
	}
	path := filepath.Join(t.TempDir(), "stale.html")
	if err := res.WriteHTML(path); err != nil {
		t.Fatalf("WriteHTML(%q) = %v, want nil", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat(%q) = %v", path, err)
	}
	if fi.Size() == 0 {
		t.Errorf("WriteHTML wrote %d bytes, want more", fi.Size())
	}
}

func TestWriteHTMLWithoutCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.html")
	if err := (Result{}).WriteHTML(path); err == nil {
		t.Errorf("Result{}.WriteHTML(%q) = nil, want an error", path)
	}
}

func TestCheckPanicsOnReturnBeforeCall(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Check(return before call) did not panic")
		}
	}()
	Check(KVModel, []porcupine.Operation{op(0, 10, 5, get("x"), KVOutput{})}, checkTimeout)
}

func TestKVHash(t *testing.T) {
	states := []kvState{{}, {present: true}, {value: "a", present: true}, {value: "b", present: true}}
	seen := make(map[uint64]kvState)
	for _, s := range states {
		h := KVModel.Hash(s)
		if other, dup := seen[h]; dup {
			t.Errorf("Hash(%+v) = Hash(%+v) = %#x, want distinct", s, other, h)
		}
		seen[h] = s
		if h2 := KVModel.Hash(kvState{value: s.value, present: s.present}); h2 != h {
			t.Errorf("Hash(%+v) = %#x then %#x, want equal", s, h, h2)
		}
	}
}

func TestKVDescribe(t *testing.T) {
	tests := []struct {
		in   KVInput
		out  any
		want string
	}{
		{get("k"), found("v"), `get("k") -> "v"`},
		{KVInput{Op: KVGet, Namespace: "ns", Key: "k"}, KVOutput{}, `get("ns"/"k") -> absent`},
		{put("k", "v"), KVOutput{Added: true}, `put("k", "v", overwrite) -> added`},
		{KVInput{Op: KVCAS, Key: "k", Value: "v"}, nil, `cas("k", absent -> "v") -> ?`},
	}
	for _, tt := range tests {
		if got := KVModel.DescribeOperation(tt.in, tt.out); got != tt.want {
			t.Errorf("DescribeOperation(%+v, %+v) = %q, want %q", tt.in, tt.out, got, tt.want)
		}
	}
}
