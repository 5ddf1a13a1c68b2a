package gcs

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
)

// A placement group's record travels in every reply about it and is
// persisted on each change. Encoded by reflection, its bundles and nodes
// cost about a microsecond each to encode and two to decode (msgpack
// grows decoded slices one element at a time), which made a group of 40
// bundles several times slower to create than one of 1. These methods
// encode the same record by hand: a map of short keys, zero fields left
// out, slices allocated once at their length.
//
// What still grew with the bundles was the bytes: each bundle's node
// took 30 bytes (28 zero bytes while it is not placed), so a 40-bundle
// record was about 1.5 KB, written three times per group (created,
// placed, removed), hashed into the state digest, logged, flushed and
// compacted by pebble, and its decoded copies kept live for the last
// RemovedGroupsMax removed groups. So the nodes are written as a table
// of the distinct nodes and one small index per bundle (0: not placed),
// about 1 byte per bundle, and equal bundles decode into one shared
// slice (Resources are values nobody changes in place). Records written
// with the nodes one by one (key "o") still decode.
//
// A run of equal adjacent bundles (a group's bundles are mostly alike)
// is written once with its length (key "bn", left out when no run is
// longer than one): 40 bundles of {CPU: 0.001} take 8 bytes, not 240,
// and decode into one shared set.

const (
	pgKeyID         = "i"
	pgKeyNamespace  = "ns"
	pgKeyName       = "n"
	pgKeyStrategy   = "s"
	pgKeyBundles    = "b"  // the bundles, a run of equal ones once
	pgKeyBundleRuns = "bn" // the length of each run of "b" (absent: 1 each)
	pgKeyNodes      = "o"  // each bundle's node (read, no longer written)
	pgKeyNodeTable  = "ot"
	pgKeyNodeIndex  = "ox"
	pgKeyState      = "st"
	pgKeyDetached   = "d"
	pgKeyOwner      = "w"
	pgKeyReason     = "r"
	pgKeyInfeasible = "f"
	pgKeyVersion    = "v"
)

// bundleResourcesMax bounds the resources of one decoded bundle.
const bundleResourcesMax = 1024

// EncodeMsgpack implements msgpack.CustomEncoder.
func (p *PlacementGroupInfo) EncodeMsgpack(enc *msgpack.Encoder) error {
	one := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	placed := slices.ContainsFunc(p.Nodes, func(n core.NodeID) bool { return !n.IsNil() })
	runs := bundleRuns(p.Bundles)
	n := 1 + one(p.Namespace != "") + one(p.Name != "") + one(p.Strategy != 0) + one(len(p.Bundles) > 0) +
		one(runs < len(p.Bundles)) + one(len(p.Nodes) > 0) + one(placed) + one(p.State != 0) + one(p.Detached) + one(p.Owner != "") + one(p.Reason != "") +
		one(p.Infeasible) + one(p.Version != 0)
	var err error
	w := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	key := func(k string) { w(func() error { return enc.EncodeString(k) }) }
	w(func() error { return enc.EncodeMapLen(n) })
	key(pgKeyID)
	w(func() error { return enc.EncodeBytes(p.ID[:]) })
	if p.Namespace != "" {
		key(pgKeyNamespace)
		w(func() error { return enc.EncodeString(p.Namespace) })
	}
	if p.Name != "" {
		key(pgKeyName)
		w(func() error { return enc.EncodeString(p.Name) })
	}
	if p.Strategy != 0 {
		key(pgKeyStrategy)
		w(func() error { return enc.EncodeUint(uint64(p.Strategy)) })
	}
	if len(p.Bundles) > 0 {
		key(pgKeyBundles)
		w(func() error { return enc.EncodeArrayLen(runs) })
		for i, b := range p.Bundles {
			if i > 0 && b.Equal(p.Bundles[i-1]) {
				continue // in the run of the one before
			}
			w(func() error { return enc.EncodeArrayLen(2 * len(b)) })
			for _, r := range b {
				w(func() error { return enc.EncodeString(r.Name) })
				w(func() error { return enc.EncodeInt(int64(r.Amount)) })
			}
		}
	}
	if runs < len(p.Bundles) {
		key(pgKeyBundleRuns)
		w(func() error { return enc.EncodeArrayLen(runs) })
		for i := 0; i < len(p.Bundles); {
			j := i + 1
			for j < len(p.Bundles) && p.Bundles[j].Equal(p.Bundles[i]) {
				j++
			}
			w(func() error { return enc.EncodeUint(uint64(j - i)) })
			i = j
		}
	}
	if len(p.Nodes) > 0 {
		// Each bundle's index into the table of distinct nodes (0 for
		// none, else its place plus one), built on the way and written
		// next.
		var table nodePlaces
		key(pgKeyNodeIndex)
		w(func() error { return enc.EncodeArrayLen(len(p.Nodes)) })
		for _, node := range p.Nodes {
			x := 0
			if !node.IsNil() {
				k, _ := table.place(node)
				x = k + 1
			}
			w(func() error { return enc.EncodeUint(uint64(x)) })
		}
		if placed {
			key(pgKeyNodeTable)
			w(func() error { return enc.EncodeArrayLen(len(table.order)) })
			for i := range table.order {
				w(func() error { return enc.EncodeBytes(table.order[i][:]) })
			}
		}
	}
	if p.State != 0 {
		key(pgKeyState)
		w(func() error { return enc.EncodeUint(uint64(p.State)) })
	}
	if p.Detached {
		key(pgKeyDetached)
		w(func() error { return enc.EncodeBool(true) })
	}
	if p.Owner != "" {
		key(pgKeyOwner)
		w(func() error { return enc.EncodeString(string(p.Owner)) })
	}
	if p.Reason != "" {
		key(pgKeyReason)
		w(func() error { return enc.EncodeString(p.Reason) })
	}
	if p.Infeasible {
		key(pgKeyInfeasible)
		w(func() error { return enc.EncodeBool(true) })
	}
	if p.Version != 0 {
		key(pgKeyVersion)
		w(func() error { return enc.EncodeInt(p.Version) })
	}
	return err
}

// DecodeMsgpack implements msgpack.CustomDecoder. Unknown keys are
// skipped; bundles and resources beyond their bounds are an error.
func (p *PlacementGroupInfo) DecodeMsgpack(dec *msgpack.Decoder) error {
	*p = PlacementGroupInfo{}
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	var table []core.NodeID
	var index, runs []uint16
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case pgKeyID:
			err = decodeFixed(dec, p.ID[:])
		case pgKeyNamespace:
			p.Namespace, err = dec.DecodeString()
		case pgKeyName:
			p.Name, err = dec.DecodeString()
		case pgKeyStrategy:
			var s uint8
			s, err = dec.DecodeUint8()
			p.Strategy = proto.PlacementStrategy(s)
		case pgKeyBundles:
			p.Bundles, err = decodeBundles(dec)
		case pgKeyBundleRuns:
			runs, err = decodeCounts(dec, 1)
		case pgKeyNodes:
			p.Nodes, err = decodeNodes(dec)
		case pgKeyNodeTable:
			table, err = decodeNodes(dec)
		case pgKeyNodeIndex:
			index, err = decodeCounts(dec, 0)
		case pgKeyState:
			var s uint8
			s, err = dec.DecodeUint8()
			p.State = PlacementGroupState(s)
		case pgKeyDetached:
			p.Detached, err = dec.DecodeBool()
		case pgKeyOwner:
			var s string
			s, err = dec.DecodeString()
			p.Owner = core.Addr(s)
		case pgKeyReason:
			p.Reason, err = dec.DecodeString()
		case pgKeyInfeasible:
			p.Infeasible, err = dec.DecodeBool()
		case pgKeyVersion:
			p.Version, err = dec.DecodeInt64()
		default:
			err = dec.Skip()
		}
		if err != nil {
			return fmt.Errorf("placement group field %q: %w", k, err)
		}
	}
	if runs != nil {
		if p.Bundles, err = expandRuns(p.Bundles, runs); err != nil {
			return err
		}
	}
	if index != nil {
		p.Nodes = make([]core.NodeID, len(index))
		for i, x := range index {
			if int(x) > len(table) {
				return fmt.Errorf("placement group bundle %d: node %d of a table of %d", i, x, len(table))
			}
			if x > 0 {
				p.Nodes[i] = table[x-1]
			}
		}
	} else if table != nil {
		return errors.New("placement group: a node table without indexes")
	}
	return nil
}

// nodePlaces numbers the distinct nodes of a group's bundles in order of
// first use: by a linear search while they are few, by a map beyond, so
// that a group spread over many nodes costs no more than linear time.
type nodePlaces struct {
	order []core.NodeID
	at    map[core.NodeID]int // place in order, once order is longer than nodePlacesScanMax
	last  int                 // the place last returned: a node's bundles tend to be adjacent
}

// nodePlacesScanMax is how many nodes nodePlaces searches linearly.
const nodePlacesScanMax = 8

// place returns n's place in order, adding n when it is new (fresh).
func (np *nodePlaces) place(n core.NodeID) (k int, fresh bool) {
	if len(np.order) > 0 && np.order[np.last] == n {
		return np.last, false
	}
	k = -1
	if np.at != nil {
		if x, ok := np.at[n]; ok {
			k = x
		}
	} else {
		k = slices.Index(np.order, n)
	}
	if k < 0 {
		k, fresh = len(np.order), true
		np.order = append(np.order, n)
		switch {
		case np.at != nil:
			np.at[n] = k
		case len(np.order) > nodePlacesScanMax:
			np.at = make(map[core.NodeID]int, 2*len(np.order))
			for i, x := range np.order {
				np.at[x] = i
			}
		}
	}
	np.last = k
	return k, fresh
}

func decodeFixed(dec *msgpack.Decoder, dst []byte) error {
	b, err := dec.DecodeBytes()
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

func decodeBundles(dec *msgpack.Decoder) ([]core.Resources, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil || n <= 0 {
		return nil, err
	}
	if n > proto.BundlesMax {
		return nil, fmt.Errorf("%d bundles, limit %d", n, proto.BundlesMax)
	}
	out := make([]core.Resources, n)
	var rs core.Resources // a scratch bundle, until it differs from the previous one
	var scratch []byte    // for the names of the bundles after the first
	if n > 1 {
		scratch = make([]byte, 32)
	}
	for i := range out {
		m, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if m%2 != 0 || m > 2*bundleResourcesMax {
			return nil, errors.New("a bundle's resources are not name, amount pairs within the limit")
		}
		if m <= 0 {
			continue
		}
		prev := core.Resources(nil)
		if i > 0 {
			prev = out[i-1]
		}
		if len(prev) != m/2 || len(rs) != m/2 {
			rs = make(core.Resources, m/2)
		}
		for j := range rs {
			if rs[j].Name, err = decodeName(dec, prev, j, scratch); err != nil {
				return nil, err
			}
			a, err := dec.DecodeInt64()
			if err != nil {
				return nil, err
			}
			rs[j].Amount = core.Quantity(a)
		}
		if rs.Equal(prev) {
			out[i] = prev // shared: the scratch bundle is reused for the next
			continue
		}
		out[i] = rs
		rs = nil
	}
	return out, nil
}

// decodeName reads the name of resource j of a bundle, reusing the
// string of prev's resource j when it is the same (bundles of a group
// mostly name the same resources), so that it allocates only new names.
// scratch holds at least 32 bytes.
func decodeName(dec *msgpack.Decoder, prev core.Resources, j int, scratch []byte) (string, error) {
	c, err := dec.PeekCode()
	if err != nil || j >= len(prev) || c < msgpcode.FixedStrLow || c > msgpcode.FixedStrHigh {
		return dec.DecodeString()
	}
	b := scratch[:1+int(c&msgpcode.FixedStrMask)] // a fixstr: its code (with the length) and at most 31 bytes
	if err := dec.ReadFull(b); err != nil {
		return "", err
	}
	if string(b[1:]) == prev[j].Name {
		return prev[j].Name, nil
	}
	return string(b[1:]), nil
}

func decodeNodes(dec *msgpack.Decoder) ([]core.NodeID, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil || n <= 0 {
		return nil, err
	}
	if n > proto.BundlesMax {
		return nil, fmt.Errorf("%d nodes, limit %d", n, proto.BundlesMax)
	}
	out := make([]core.NodeID, n)
	for i := range out {
		if err := decodeFixed(dec, out[i][:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeCounts reads an array of at most proto.BundlesMax numbers of
// least to proto.BundlesMax: node indexes, lengths of runs of bundles.
func decodeCounts(dec *msgpack.Decoder, least uint16) ([]uint16, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	if n > proto.BundlesMax {
		return nil, fmt.Errorf("%d numbers, limit %d", n, proto.BundlesMax)
	}
	out := make([]uint16, n)
	for i := range out {
		x, err := dec.DecodeUint16()
		if err != nil {
			return nil, err
		}
		if x < least || int(x) > proto.BundlesMax {
			return nil, fmt.Errorf("number %d, want %d to %d", x, least, proto.BundlesMax)
		}
		out[i] = x
	}
	return out, nil
}

// bundleRuns counts the runs of equal adjacent bundles of bs.
func bundleRuns(bs []core.Resources) int {
	n := 0
	for i, b := range bs {
		if i == 0 || !b.Equal(bs[i-1]) {
			n++
		}
	}
	return n
}

// expandRuns gives each bundle of runs its run's length of places, all
// sharing its set.
func expandRuns(bs []core.Resources, runs []uint16) ([]core.Resources, error) {
	if len(runs) != len(bs) {
		return nil, fmt.Errorf("placement group: %d runs of bundles for %d bundles", len(runs), len(bs))
	}
	total := 0
	for _, r := range runs {
		total += int(r)
	}
	if total > proto.BundlesMax {
		return nil, fmt.Errorf("placement group: %d bundles, limit %d", total, proto.BundlesMax)
	}
	out := make([]core.Resources, 0, total)
	for k, r := range runs {
		for range r {
			out = append(out, bs[k])
		}
	}
	return out, nil
}
