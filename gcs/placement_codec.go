package gcs

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

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

const (
	pgKeyID         = "i"
	pgKeyNamespace  = "ns"
	pgKeyName       = "n"
	pgKeyStrategy   = "s"
	pgKeyBundles    = "b"
	pgKeyNodes      = "o"
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
	n := 1 + one(p.Namespace != "") + one(p.Name != "") + one(p.Strategy != 0) + one(len(p.Bundles) > 0) +
		one(len(p.Nodes) > 0) + one(p.State != 0) + one(p.Detached) + one(p.Owner != "") + one(p.Reason != "") +
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
		w(func() error { return enc.EncodeArrayLen(len(p.Bundles)) })
		for _, b := range p.Bundles {
			w(func() error { return enc.EncodeArrayLen(2 * len(b)) })
			for _, r := range b {
				w(func() error { return enc.EncodeString(r.Name) })
				w(func() error { return enc.EncodeInt(int64(r.Amount)) })
			}
		}
	}
	if len(p.Nodes) > 0 {
		key(pgKeyNodes)
		w(func() error { return enc.EncodeArrayLen(len(p.Nodes)) })
		for i := range p.Nodes {
			w(func() error { return enc.EncodeBytes(p.Nodes[i][:]) })
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
		case pgKeyNodes:
			p.Nodes, err = decodeNodes(dec)
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
	return nil
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
		rs := make(core.Resources, m/2)
		for j := range rs {
			if rs[j].Name, err = dec.DecodeString(); err != nil {
				return nil, err
			}
			a, err := dec.DecodeInt64()
			if err != nil {
				return nil, err
			}
			rs[j].Amount = core.Quantity(a)
		}
		out[i] = rs
	}
	return out, nil
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
