package core

import (
	"fmt"
	"slices"
	"strings"
)

// Node labels and label selectors, as Ray's (ray start --labels, and the
// label_selector option of tasks and actors). A node carries a few
// key=value labels given when it starts (zone, instance type, …); a
// task or actor may demand labels, and is then placed only on a node
// whose labels match every term of its selector.

// Label is one key=value label of a node.
type Label struct {
	Key   string `msgpack:"k"`
	Value string `msgpack:"v"`
}

// Labels are a node's labels, sorted by key, keys unique. They travel
// as a sorted list (never a Go map) so that their encoding is the same
// every time.
type Labels []Label

// Bounds of labels.
const (
	LabelsMax      = 64
	LabelKeyMax    = 63
	LabelValueMax  = 63
	SelectorValues = 16 // values of one in(…) term
)

// validLabelPart reports whether s is made of letters, digits and
// "-_./", begins and ends with a letter or digit, as Kubernetes and Ray
// require of label keys and values.
func validLabelPart(s string, slash bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case alnum:
		case i == 0 || i == len(s)-1:
			return false
		case c == '-' || c == '_' || c == '.' || (slash && c == '/'):
		default:
			return false
		}
	}
	return true
}

func checkLabelKey(k string) error {
	if len(k) > LabelKeyMax || !validLabelPart(k, true) {
		return fmt.Errorf("label key %q: want 1..%d letters, digits and -_./, beginning and ending with a letter or digit", k, LabelKeyMax)
	}
	return nil
}

func checkLabelValue(k, v string) error {
	if v != "" && (len(v) > LabelValueMax || !validLabelPart(v, false)) {
		return fmt.Errorf("label %s: value %q: want at most %d letters, digits and -_., beginning and ending with a letter or digit", k, v, LabelValueMax)
	}
	return nil
}

// LabelsFrom returns m as Labels, or why it is not a valid set.
func LabelsFrom(m map[string]string) (Labels, error) {
	if len(m) > LabelsMax {
		return nil, fmt.Errorf("%d labels, limit %d", len(m), LabelsMax)
	}
	l := make(Labels, 0, len(m))
	for k, v := range m { //gray:unordered sorted below
		l = append(l, Label{k, v})
	}
	slices.SortFunc(l, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// ParseLabels parses "k=v,k2=v2" (the form grayd --labels takes).
func ParseLabels(s string) (Labels, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("label %s given twice", k)
		}
		m[k] = v
	}
	return LabelsFrom(m)
}

// Validate checks that l is sorted, unique and within bounds.
func (l Labels) Validate() error {
	if len(l) > LabelsMax {
		return fmt.Errorf("%d labels, limit %d", len(l), LabelsMax)
	}
	for i, x := range l {
		if err := checkLabelKey(x.Key); err != nil {
			return err
		}
		if err := checkLabelValue(x.Key, x.Value); err != nil {
			return err
		}
		if i > 0 && l[i-1].Key >= x.Key {
			return fmt.Errorf("labels not sorted by key or key %s repeated", x.Key)
		}
	}
	return nil
}

// Get returns the value of key and whether the node has it.
func (l Labels) Get(key string) (string, bool) {
	i, ok := slices.BinarySearchFunc(l, key, func(x Label, k string) int { return strings.Compare(x.Key, k) })
	if !ok {
		return "", false
	}
	return l[i].Value, true
}

// Map returns l as a map (nil when empty).
func (l Labels) Map() map[string]string {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]string, len(l))
	for _, x := range l {
		m[x.Key] = x.Value
	}
	return m
}

// Equal reports whether l and o are the same labels.
func (l Labels) Equal(o Labels) bool { return slices.Equal(l, o) }

// String formats l as "k=v,k2=v2".
func (l Labels) String() string {
	var b strings.Builder
	for i, x := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Key)
		b.WriteByte('=')
		b.WriteString(x.Value)
	}
	return b.String()
}

// LabelTerm is one condition of a selector on the label Key: its value
// is one of Values, or with Not none of them (a node without the label
// matches a Not term only).
//
// Its codec is hand-written in core/proto/codec_fast.go, for the task
// messages that carry it: a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type LabelTerm struct {
	Key    string   `msgpack:"k"`
	Not    bool     `msgpack:"n,omitempty"`
	Values []string `msgpack:"v"`
}

// Selector is a label selector: a node matches when it matches every
// term. Terms are sorted by key, keys unique.
type Selector []LabelTerm

// ParseSelector parses Ray's label_selector form: per key, "value",
// "!value", "in(a,b,…)" or "!in(a,b,…)".
func ParseSelector(m map[string]string) (Selector, error) {
	if len(m) > LabelsMax {
		return nil, fmt.Errorf("%d selector terms, limit %d", len(m), LabelsMax)
	}
	s := make(Selector, 0, len(m))
	for k, expr := range m { //gray:unordered sorted below
		t := LabelTerm{Key: k}
		e := strings.TrimSpace(expr)
		if rest, ok := strings.CutPrefix(e, "!"); ok {
			t.Not, e = true, strings.TrimSpace(rest)
		}
		if inner, ok := strings.CutPrefix(e, "in("); ok {
			inner, ok = strings.CutSuffix(inner, ")")
			if !ok {
				return nil, fmt.Errorf("label selector %s: %q: want in(a,b,…) with a closing parenthesis", k, expr)
			}
			for _, v := range strings.Split(inner, ",") {
				t.Values = append(t.Values, strings.TrimSpace(v))
			}
		} else {
			t.Values = []string{e}
		}
		slices.Sort(t.Values)
		t.Values = slices.Compact(t.Values)
		s = append(s, t)
	}
	slices.SortFunc(s, func(a, b LabelTerm) int { return strings.Compare(a.Key, b.Key) })
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

// Validate checks that s is sorted, unique and within bounds.
func (s Selector) Validate() error {
	if len(s) > LabelsMax {
		return fmt.Errorf("%d selector terms, limit %d", len(s), LabelsMax)
	}
	for i, t := range s {
		if err := checkLabelKey(t.Key); err != nil {
			return fmt.Errorf("label selector: %w", err)
		}
		if len(t.Values) == 0 || len(t.Values) > SelectorValues {
			return fmt.Errorf("label selector %s: %d values, want 1..%d", t.Key, len(t.Values), SelectorValues)
		}
		for _, v := range t.Values {
			if v == "" {
				return fmt.Errorf("label selector %s: an empty value", t.Key)
			}
			if err := checkLabelValue(t.Key, v); err != nil {
				return fmt.Errorf("label selector: %w", err)
			}
		}
		if i > 0 && s[i-1].Key >= t.Key {
			return fmt.Errorf("label selector terms not sorted by key or key %s repeated", t.Key)
		}
	}
	return nil
}

// Matches reports whether a node with labels l matches s.
func (s Selector) Matches(l Labels) bool {
	for _, t := range s {
		v, ok := l.Get(t.Key)
		in := ok && slices.Contains(t.Values, v)
		if in == !t.Not {
			continue
		}
		return false
	}
	return true
}

// String formats s as Ray writes selectors: "k=v,k2!=in(a,b)".
func (s Selector) String() string {
	var b strings.Builder
	for i, t := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.Key)
		if t.Not {
			b.WriteByte('!')
		}
		b.WriteByte('=')
		if len(t.Values) == 1 {
			b.WriteString(t.Values[0])
			continue
		}
		b.WriteString("in(")
		b.WriteString(strings.Join(t.Values, ","))
		b.WriteByte(')')
	}
	return b.String()
}
