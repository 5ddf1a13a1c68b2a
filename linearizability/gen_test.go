package linearizability

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"
)

// kvGenConfig shapes a generated KV history.
type kvGenConfig struct {
	ops     int // operations in total
	keys    int
	clients int
}

// genKVHistory simulates a linearizable KV store: each client issues
// operations back to back with random gaps and latencies, each operation
// takes effect at a random instant inside its [call, return] interval, and
// outputs are computed by applying the operations in that order to a
// sequential store. Intervals of different clients overlap at random, so
// the checker must search for the order.
func genKVHistory(rng *rand.Rand, cfg kvGenConfig) []porcupine.Operation {
	type pending struct {
		op    porcupine.Operation
		point int64 // linearization point
	}
	gen := make([]pending, 0, cfg.ops)
	next := make([]int64, cfg.clients) // each client's next free time
	values := []string{"a", "b", "c", "d"}
	for i := range cfg.ops {
		c := i % cfg.clients
		call := next[c] + rng.Int64N(50)
		ret := call + 10 + rng.Int64N(300)
		next[c] = ret + 1
		in := KVInput{Key: "k" + strconv.Itoa(rng.IntN(cfg.keys)), Value: values[rng.IntN(len(values))]}
		switch p := rng.IntN(100); {
		case p < 40:
			in.Op = KVGet
		case p < 65:
			in.Op, in.Overwrite = KVPut, rng.IntN(4) != 0
		case p < 75:
			in.Op = KVDelete
		case p < 90:
			in.Op, in.ExpectExists, in.Expected = KVCAS, rng.IntN(3) != 0, values[rng.IntN(len(values))]
		default:
			in.Op = KVExists
		}
		gen = append(gen, pending{
			op:    porcupine.Operation{ClientId: c, Input: in, Call: call, Return: ret},
			point: call + rng.Int64N(ret-call+1),
		})
	}
	byPoint := make([]int, len(gen))
	for i := range byPoint {
		byPoint[i] = i
	}
	slices.SortStableFunc(byPoint, func(a, b int) int { return cmp.Compare(gen[a].point, gen[b].point) })
	state := make(map[string]kvState)
	for _, i := range byPoint {
		in := gen[i].op.Input.(KVInput)
		var out KVOutput
		state[in.Key], out = kvApply(state[in.Key], in)
		gen[i].op.Output = out
	}
	ops := make([]porcupine.Operation, len(gen))
	for i, p := range gen {
		ops[i] = p.op
	}
	return ops
}

func TestGeneratedKVHistory(t *testing.T) {
	cfg := kvGenConfig{ops: 2000, keys: 5, clients: 10}
	tests := []struct {
		name   string
		mutate func(rng *rand.Rand, ops []porcupine.Operation)
		want   Outcome
	}{
		{"as generated", func(*rand.Rand, []porcupine.Operation) {}, Ok},
		{"some outcomes unknown", func(rng *rand.Rand, ops []porcupine.Operation) {
			// A few per key at most: each stays pending to the end.
			for range 8 {
				i := rng.IntN(len(ops))
				ops[i].Output, ops[i].Return = nil, UnknownReturn
			}
		}, Ok},
		{"a read returns a value never written", func(rng *rand.Rand, ops []porcupine.Operation) {
			for {
				i := rng.IntN(len(ops))
				if in := ops[i].Input.(KVInput); in.Op == KVGet {
					ops[i].Output = found("never written")
					return
				}
			}
		}, Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			ops := genKVHistory(rng, cfg)
			tt.mutate(rng, ops)
			if res := Check(KVModel, ops, checkTimeout); res.Outcome != tt.want {
				t.Errorf("Check(generated %d ops) = %v, want %v", len(ops), res, tt.want)
			}
		})
	}
}

func TestGenKVHistoryDeterministic(t *testing.T) {
	cfg := kvGenConfig{ops: 500, keys: 10, clients: 10}
	a := genKVHistory(rand.New(rand.NewPCG(1, 2)), cfg)
	b := genKVHistory(rand.New(rand.NewPCG(1, 2)), cfg)
	if !slices.Equal(a, b) {
		t.Errorf("genKVHistory with the same seed gave different histories")
	}
}
