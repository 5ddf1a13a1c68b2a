package core

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Well-known resource names. Custom resources use any other non-empty name.
const (
	CPU    = "CPU"
	GPU    = "GPU"
	Memory = "memory" // bytes
	// ActorSlot is the resource that stands for a worker process an
	// actor may live in: each actor holds one. A raylet sets its own
	// amount from its cap on worker processes (raylet Config.MaxWorkers
	// less the workers kept for tasks), so that actors spread to nodes
	// with room for another process and never take the last ones tasks
	// need.
	ActorSlot = "gray_actor_slot"
)

// QuantityScale is the number of Quantity units in one resource unit. Ray
// keeps resources in fixed point with four decimal digits so that fractional
// requests (0.5 CPU) add and subtract without floating-point drift.
const QuantityScale = 10000

// Quantity is an amount of one resource in fixed point (1/QuantityScale units).
type Quantity int64

// Units returns q as a whole number of QuantityScale units (q for 1 CPU is
// Units(1)).
func Units(n int64) Quantity { return Quantity(n * QuantityScale) }

// ErrBadQuantity reports an amount that cannot be represented: negative, NaN,
// too large, or finer than 1/QuantityScale.
var ErrBadQuantity = errors.New("core: bad resource quantity")

// ParseQuantity converts a decimal amount such as "0.5" or "4" to a Quantity.
// It rejects negative amounts and amounts finer than 1/QuantityScale instead
// of rounding them silently.
func ParseQuantity(s string) (Quantity, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("core: parse quantity %q: %w", s, ErrBadQuantity)
	}
	if len(frac) > 4 {
		return 0, fmt.Errorf("core: parse quantity %q: more than 4 decimal digits: %w", s, ErrBadQuantity)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 63)
	if err != nil || w > math.MaxInt64/QuantityScale-1 {
		return 0, fmt.Errorf("core: parse quantity %q: %w", s, ErrBadQuantity)
	}
	var f uint64
	if frac != "" {
		f, err = strconv.ParseUint(frac+strings.Repeat("0", 4-len(frac)), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("core: parse quantity %q: %w", s, ErrBadQuantity)
		}
	}
	return Quantity(int64(w)*QuantityScale + int64(f)), nil
}

// String formats q as a decimal with up to four fractional digits.
func (q Quantity) String() string {
	sign := ""
	if q < 0 {
		sign, q = "-", -q
	}
	w, f := int64(q)/QuantityScale, int64(q)%QuantityScale
	if f == 0 {
		return sign + strconv.FormatInt(w, 10)
	}
	fs := strings.TrimRight(fmt.Sprintf("%04d", f), "0")
	return sign + strconv.FormatInt(w, 10) + "." + fs
}

// Resource is one named amount.
//
// Its codec is hand-written in core/proto/codec_fast.go, for the task
// messages that carry it: a field added, removed or retagged here must be
// changed there too; TestFastCodecMatchesReflection fails until it is.
type Resource struct {
	Name   string   `msgpack:"n"`
	Amount Quantity `msgpack:"a"`
}

// Resources is a set of named amounts kept sorted by name with no zero
// entries, so that equal sets have equal encodings and iteration order is
// deterministic. The zero value is the empty set. Methods never modify their
// receiver; results are freshly allocated.
type Resources []Resource

// NewResources builds a set from a map; zero amounts are dropped. It returns
// ErrBadQuantity for negative amounts or empty names.
func NewResources(m map[string]Quantity) (Resources, error) {
	r := make(Resources, 0, len(m))
	for name, q := range m { //gray:unordered sorted right after the loop
		if name == "" || q < 0 {
			return nil, fmt.Errorf("core: resource %q = %v: %w", name, q, ErrBadQuantity)
		}
		if q != 0 {
			r = append(r, Resource{name, q})
		}
	}
	slices.SortFunc(r, func(a, b Resource) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

// MustResources is NewResources for literals in code and tests; it panics on
// a bad set, which is a programmer error there.
func MustResources(kv ...any) Resources {
	if len(kv)%2 != 0 {
		panic("core: MustResources needs name, amount pairs")
	}
	m := make(map[string]Quantity, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case int:
			m[name] = Units(int64(v))
		case Quantity:
			m[name] = v
		case string:
			q, err := ParseQuantity(v)
			if err != nil {
				panic(err)
			}
			m[name] = q
		default:
			panic(fmt.Sprintf("core: MustResources: amount of %s has type %T", name, v))
		}
	}
	r, err := NewResources(m)
	if err != nil {
		panic(err)
	}
	return r
}

// Get returns the amount of name in r (zero if absent).
func (r Resources) Get(name string) Quantity {
	i, ok := slices.BinarySearchFunc(r, name, func(e Resource, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return 0
	}
	return r[i].Amount
}

// IsEmpty reports whether r holds no resources.
func (r Resources) IsEmpty() bool { return len(r) == 0 }

// Valid reports whether r is sorted, unique, and has only positive amounts
// with non-empty names. Decoded sets from the network must be checked.
func (r Resources) Valid() bool {
	for i, e := range r {
		if e.Name == "" || e.Amount <= 0 {
			return false
		}
		if i > 0 && r[i-1].Name >= e.Name {
			return false
		}
	}
	return true
}

// merge walks a and b in name order and combines amounts with f, dropping
// zero results.
func merge(a, b Resources, f func(x, y Quantity) Quantity) Resources {
	out := make(Resources, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var name string
		var x, y Quantity
		switch {
		case j >= len(b) || (i < len(a) && a[i].Name < b[j].Name):
			name, x = a[i].Name, a[i].Amount
			i++
		case i >= len(a) || b[j].Name < a[i].Name:
			name, y = b[j].Name, b[j].Amount
			j++
		default:
			name, x, y = a[i].Name, a[i].Amount, b[j].Amount
			i++
			j++
		}
		if q := f(x, y); q != 0 {
			out = append(out, Resource{name, q})
		}
	}
	return out
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return merge(r, o, func(x, y Quantity) Quantity { return x + y })
}

// Sub returns r - o. Amounts may go negative; callers that must never go
// negative check Fits first (and assert afterwards).
func (r Resources) Sub(o Resources) Resources {
	return merge(r, o, func(x, y Quantity) Quantity { return x - y })
}

// Sum returns the sum of the n sets at(0) … at(n-1), as adding them one
// by one would. While they name the same resources in the same order
// (a placement group's bundles, mostly) it adds in place and allocates
// once, where n Adds allocate n times.
func Sum(n int, at func(i int) Resources) Resources {
	var out Resources
	for i := range n {
		r := at(i)
		switch {
		case len(r) == 0:
		case out == nil:
			out = slices.Clone(r)
		case sameNames(out, r):
			for j := range r {
				out[j].Amount += r[j].Amount
			}
		default:
			out = out.Add(r)
		}
	}
	// Add drops zero results: so does the sum (exact fixed point, so
	// only the totals matter).
	return slices.DeleteFunc(out, func(e Resource) bool { return e.Amount == 0 })
}

// sameNames reports whether r and o name the same resources.
func sameNames(r, o Resources) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if r[i].Name != o[i].Name {
			return false
		}
	}
	return true
}

// FitsIn reports whether r, read as a demand, fits into avail: every
// demanded amount is available.
func (r Resources) FitsIn(avail Resources) bool {
	for _, d := range r {
		if avail.Get(d.Name) < d.Amount {
			return false
		}
	}
	return true
}

// AnyNegative reports whether some amount in r is below zero.
func (r Resources) AnyNegative() bool {
	for _, e := range r {
		if e.Amount < 0 {
			return true
		}
	}
	return false
}

// Equal reports whether r and o hold the same amounts.
func (r Resources) Equal(o Resources) bool { return slices.Equal(r, o) }

// String formats r as "{CPU: 2, memory: 1073741824}".
func (r Resources) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		b.WriteString(": ")
		b.WriteString(e.Amount.String())
	}
	b.WriteByte('}')
	return b.String()
}
