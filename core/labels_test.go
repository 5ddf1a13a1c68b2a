package core

import (
	"strings"
	"testing"
)

func TestLabels(t *testing.T) {
	l, err := ParseLabels("zone=us-west-1a, gpu=a100,tier=")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "gpu=a100,tier=,zone=us-west-1a" {
		t.Fatalf("String = %q", got)
	}
	if v, ok := l.Get("zone"); !ok || v != "us-west-1a" {
		t.Fatalf("Get(zone) = %q, %v", v, ok)
	}
	if _, ok := l.Get("rack"); ok {
		t.Fatal("Get of a missing key found it")
	}
	for _, bad := range []string{"zone", "=x", "-a=b", "a=b c", "a=1,a=2", "k=" + strings.Repeat("x", 64)} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("ParseLabels(%q) accepted", bad)
		}
	}
	if (Labels{{"b", "1"}, {"a", "2"}}).Validate() == nil {
		t.Error("unsorted labels validated")
	}
}

func TestSelector(t *testing.T) {
	node := Labels{{"gpu", "a100"}, {"zone", "us-west-1a"}}
	for _, c := range []struct {
		sel  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"zone": "us-west-1a"}, true},
		{map[string]string{"zone": "us-east-1"}, false},
		{map[string]string{"zone": "!us-east-1"}, true},
		{map[string]string{"zone": "!us-west-1a"}, false},
		{map[string]string{"zone": "in(us-east-1, us-west-1a)"}, true},
		{map[string]string{"zone": "!in(us-east-1,us-west-1a)"}, false},
		{map[string]string{"rack": "r1"}, false}, // a node without the label
		{map[string]string{"rack": "!r1"}, true}, // matches only a Not term
		{map[string]string{"zone": "us-west-1a", "gpu": "h100"}, false},
		{map[string]string{"zone": "us-west-1a", "gpu": "in(a100,h100)"}, true},
	} {
		s, err := ParseSelector(c.sel)
		if err != nil {
			t.Fatalf("ParseSelector(%v): %v", c.sel, err)
		}
		if got := s.Matches(node); got != c.want {
			t.Errorf("%v matches %v = %v, want %v", s, node, got, c.want)
		}
	}
	for _, bad := range []map[string]string{{"zone": ""}, {"zone": "in(a,b"}, {"zone": "in()"}, {"bad key": "x"}, {"k": "a b"}} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%v) accepted", bad)
		}
	}
	s, _ := ParseSelector(map[string]string{"zone": "!in(b,a)", "gpu": "a100"})
	if got := s.String(); got != "gpu=a100,zone!=in(a,b)" {
		t.Errorf("String = %q", got)
	}
}
