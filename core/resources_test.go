package core

import (
	"errors"
	"slices"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Quantity
		err  bool
	}{
		{"1", 10000, false},
		{"0.5", 5000, false},
		{".25", 2500, false},
		{"2.0001", 20001, false},
		{"0.00001", 0, true},
		{"-1", 0, true},
		{"", 0, true},
		{"abc", 0, true},
		{"99999999999999999999", 0, true},
	} {
		got, err := ParseQuantity(tc.in)
		if (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("ParseQuantity(%q) = %v, %v, want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrBadQuantity) {
			t.Errorf("ParseQuantity(%q) error %v does not wrap ErrBadQuantity", tc.in, err)
		}
	}
}

func TestQuantityString(t *testing.T) {
	for q, want := range map[Quantity]string{10000: "1", 5000: "0.5", 1: "0.0001", -2500: "-0.25", 0: "0"} { //gray:unordered independent cases
		if got := q.String(); got != want {
			t.Errorf("Quantity(%d).String() = %q, want %q", int64(q), got, want)
		}
	}
}

// TestFractionalArithmeticNeverDrifts adds and subtracts 0.1 CPU many times,
// which drifts with float64 and must not with fixed point.
func TestFractionalArithmeticNeverDrifts(t *testing.T) {
	total := MustResources(CPU, 4)
	tenth := MustResources(CPU, "0.1")
	avail := total
	for range 40 {
		if !tenth.FitsIn(avail) {
			t.Fatalf("0.1 CPU does not fit in %v", avail)
		}
		avail = avail.Sub(tenth)
	}
	if !avail.IsEmpty() {
		t.Fatalf("after 40 × 0.1 of 4 CPU, avail = %v, want {}", avail)
	}
	if tenth.FitsIn(avail) {
		t.Fatal("0.1 CPU fits in an empty set")
	}
	for range 40 {
		avail = avail.Add(tenth)
	}
	if !avail.Equal(total) {
		t.Fatalf("after adding back, avail = %v, want %v", avail, total)
	}
}

func TestResourcesMergeAndValidity(t *testing.T) {
	a := MustResources(CPU, 2, "custom", "0.5")
	b := MustResources(GPU, 1, CPU, 1)
	sum := a.Add(b)
	if want := MustResources(CPU, 3, GPU, 1, "custom", "0.5"); !sum.Equal(want) {
		t.Fatalf("Add = %v, want %v", sum, want)
	}
	if !sum.Valid() {
		t.Fatalf("%v not valid", sum)
	}
	diff := a.Sub(b)
	if !diff.AnyNegative() {
		t.Fatalf("a - b = %v, want a negative GPU", diff)
	}
	if (Resources{{"b", 1}, {"a", 1}}).Valid() || (Resources{{"a", 0}}).Valid() || (Resources{{"", 1}}).Valid() {
		t.Fatal("unsorted, zero or unnamed sets reported valid")
	}
	if _, err := NewResources(map[string]Quantity{CPU: -1}); !errors.Is(err, ErrBadQuantity) {
		t.Fatalf("NewResources(negative) error = %v, want ErrBadQuantity", err)
	}
	if got := sum.String(); got != "{CPU: 3, GPU: 1, custom: 0.5}" {
		t.Errorf("String() = %q", got)
	}
}

// TestSumIsRepeatedAdd: Sum gives what adding the sets one by one gives,
// for sets that name the same resources (added in place) and others,
// negative amounts and totals of zero included.
func TestSumIsRepeatedAdd(t *testing.T) {
	cpu, tenth := MustResources(CPU, 1), MustResources(CPU, "0.1")
	mixed := MustResources(CPU, 1, GPU, 2)
	for _, tc := range []struct {
		name string
		sets []Resources
	}{
		{"none", nil},
		{"empty sets", []Resources{nil, {}}},
		{"one", []Resources{mixed}},
		{"forty tenths", slices.Repeat([]Resources{tenth}, 40)},
		{"other names", []Resources{cpu, mixed, MustResources("custom", 3), nil, mixed, cpu}},
		{"a total of zero", []Resources{mixed, {{CPU, -Units(1)}, {GPU, -Units(2)}}, cpu}},
		{"zero, then more", []Resources{cpu, {{CPU, -Units(1)}}, {{CPU, -Units(1)}}, mixed}},
	} {
		var want Resources
		for _, r := range tc.sets {
			want = want.Add(r)
		}
		in := make([]Resources, len(tc.sets))
		for i, r := range tc.sets {
			in[i] = slices.Clone(r)
		}
		got := Sum(len(tc.sets), func(i int) Resources { return tc.sets[i] })
		if !got.Equal(want) {
			t.Errorf("%s: Sum = %v, want %v", tc.name, got, want)
		}
		for i, r := range tc.sets {
			if !r.Equal(in[i]) || (len(r) > 0 && len(got) > 0 && &r[0] == &got[0]) {
				t.Errorf("%s: Sum changed or kept its input %d", tc.name, i)
			}
		}
	}
}
