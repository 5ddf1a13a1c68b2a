package gcs

import (
	"bytes"
	"slices"
	"strings"

	"github.com/grayrt/gray/core/rpc"
)

// The internal KV store, namespaced like Ray's: reads from memory, writes
// through a txn.

func (s *Server) kvGet(m *KVGet) Reply {
	if s.cfg.Bug == BugStaleRead {
		ck := string(kvKey(m.Namespace, m.Key))
		if v, ok := s.readCache[ck]; ok {
			return Reply{Found: true, Value: v}
		}
		v, ok := s.kv[m.Namespace][m.Key]
		if ok {
			if len(s.readCache) >= 10_000 {
				clear(s.readCache)
			}
			s.readCache[ck] = v
		}
		return Reply{Found: ok, Value: v}
	}
	v, ok := s.kv[m.Namespace][m.Key]
	return Reply{Found: ok, Value: v}
}

func (s *Server) kvExists(m *KVExists) Reply {
	_, ok := s.kv[m.Namespace][m.Key]
	return Reply{Found: ok}
}

func (s *Server) kvKeys(m *KVKeys) Reply {
	var keys []string
	for k := range s.kv[m.Namespace] { //gray:unordered collected, then sorted; the limit error does not depend on order
		if strings.HasPrefix(k, m.Prefix) {
			if len(keys) == KeysPerReplyMax {
				return fail(rpc.CodeInvalid, "more than %d keys in namespace %q start with %q; list a longer prefix",
					KeysPerReplyMax, m.Namespace, m.Prefix)
			}
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if keys == nil {
		keys = []string{}
	}
	return Reply{Keys: keys}
}

func (s *Server) kvPut(t *txn, m *KVPut) Reply {
	_, exists := s.kv[m.Namespace][m.Key]
	if exists && !m.Overwrite {
		return Reply{}
	}
	s.kvWrite(t, m.Namespace, m.Key, m.Value)
	return Reply{Added: !exists}
}

func (s *Server) kvDel(t *txn, m *KVDel) Reply {
	if _, exists := s.kv[m.Namespace][m.Key]; !exists {
		return Reply{}
	}
	s.kvDelete(t, m.Namespace, m.Key)
	return Reply{Deleted: true}
}

// kvDelete deletes the value of key in namespace ns, which exists, in t.
func (s *Server) kvDelete(t *txn, ns, key string) {
	if k := s.kvStoredKey(t, ns, key); k != nil {
		t.del(k)
	}
	t.kvWritten(ns, key, nil)
	t.then(func() {
		delete(s.kv[ns], key)
		if len(s.kv[ns]) == 0 {
			delete(s.kv, ns)
		}
		delete(s.kvLegacy, string(kvKey(ns, key)))
	})
}

// kvStoredKey returns the key under which the value of key in namespace
// ns is stored, counting t's own writes; nil if there is none.
func (s *Server) kvStoredKey(t *txn, ns, key string) []byte {
	ck := kvKey(ns, key)
	if k, ok := t.kvAt[string(ck)]; ok {
		return k
	}
	v, ok := s.kv[ns][key]
	switch {
	case !ok:
		return nil
	case s.kvLegacy[string(ck)]:
		return ck
	}
	return kvKeyOf(ns, key, len(v))
}

// kvWritten records in t that the value of key in namespace ns is now
// stored under k (nil: deleted).
func (t *txn) kvWritten(ns, key string, k []byte) {
	if t.kvAt == nil {
		t.kvAt = map[string][]byte{}
	}
	t.kvAt[string(kvKey(ns, key))] = k
}

func (s *Server) kvCAS(t *txn, m *KVCAS) Reply {
	cur, exists := s.kv[m.Namespace][m.Key]
	if (m.ExpectExists && exists && bytes.Equal(cur, m.Expected)) || (!m.ExpectExists && !exists) {
		s.kvWrite(t, m.Namespace, m.Key, m.Value)
		return Reply{Swapped: true}
	}
	return Reply{}
}

func (s *Server) kvWrite(t *txn, ns, key string, value []byte) {
	if value == nil {
		value = []byte{} // present and empty, never confused with absent
	}
	k := kvKeyOf(ns, key, len(value))
	if old := s.kvStoredKey(t, ns, key); old != nil && !bytes.Equal(old, k) {
		t.del(old) // moved between the KV and the bulk table
	}
	t.set(k, value)
	t.kvWritten(ns, key, k)
	t.then(func() {
		delete(s.kvLegacy, string(kvKey(ns, key)))
		if ns == BinaryNS {
			s.touchBinary(binaryOf(key))
		}
		if s.kv[ns] == nil {
			s.kv[ns] = map[string][]byte{}
		}
		s.kv[ns][key] = value
	})
}
