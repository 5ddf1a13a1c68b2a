package gcs

// StoredTables counts the records of s's database by table prefix.
func StoredTables(s *Server) map[byte]int {
	it, err := s.db.NewIter(nil)
	if err != nil {
		panic(err)
	}
	defer it.Close()
	n := map[byte]int{}
	for it.First(); it.Valid(); it.Next() {
		n[it.Key()[0]]++
	}
	return n
}

// PutLegacyKV stores value in the KV table whatever its size, as versions
// before the bulk table did.
func PutLegacyKV(s *Server, ns, key string, value []byte) {
	t := s.newTxn()
	t.set(kvKey(ns, key), value)
	t.then(func() {
		if s.kv[ns] == nil {
			s.kv[ns] = map[string][]byte{}
		}
		s.kv[ns][key] = value
	})
	s.commit(t)
}

// TableBulk and TableKV are the prefixes of the bulk and KV tables.
const (
	TableBulk = tableBulk
	TableKV   = tableKV
	BulkMin   = bulkValueMin
)
