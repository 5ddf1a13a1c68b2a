package linearizability

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkCheckKV10k measures porcupine's check of a linearizable
// 10,000-operation KV history over 10 keys and 10 concurrent clients.
func BenchmarkCheckKV10k(b *testing.B) {
	ops := genKVHistory(rand.New(rand.NewPCG(1, 2)), kvGenConfig{ops: 10_000, keys: 10, clients: 10})
	b.ReportAllocs()
	for b.Loop() {
		if res := Check(KVModel, ops, time.Minute); res.Outcome != Ok {
			b.Fatalf("Check(generated history) = %v, want %v", res, Ok)
		}
	}
}
