package linearizability

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/anishathalye/porcupine"
)

// partKey identifies one partition: a KV key or an actor name within its
// namespace. A struct, not a joined string, so that no choice of separator
// can make two keys collide.
type partKey struct {
	namespace string
	name      string
}

func comparePartKeys(a, b partKey) int {
	if c := cmp.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// partitionOps splits history by the partition key of each operation's
// input. Partitions come out sorted by key, so that the check and its
// visualization do not depend on map iteration order; operations keep
// their relative order within a partition.
func partitionOps(history []porcupine.Operation, key func(input any) partKey) [][]porcupine.Operation {
	index := make(map[partKey]int)
	var keys []partKey
	var parts [][]porcupine.Operation
	for _, op := range history {
		k := key(op.Input)
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			keys = append(keys, k)
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return sortParts(keys, parts)
}

// partitionEvents is partitionOps for the event representation of a
// history: a return event goes to the partition of its call event.
func partitionEvents(history []porcupine.Event, key func(input any) partKey) [][]porcupine.Event {
	index := make(map[partKey]int)
	byID := make(map[int]int) // event id -> partition index
	var keys []partKey
	var parts [][]porcupine.Event
	for _, ev := range history {
		var i int
		if ev.Kind == porcupine.CallEvent {
			k := key(ev.Value)
			var ok bool
			if i, ok = index[k]; !ok {
				i = len(parts)
				index[k] = i
				keys = append(keys, k)
				parts = append(parts, nil)
			}
			byID[ev.Id] = i
		} else {
			var ok bool
			if i, ok = byID[ev.Id]; !ok {
				panic(fmt.Sprintf("linearizability: return event %d has no earlier call event", ev.Id))
			}
		}
		parts[i] = append(parts[i], ev)
	}
	return sortParts(keys, parts)
}

// sortParts orders parts by their keys; keys[i] is the key of parts[i].
func sortParts[T any](keys []partKey, parts [][]T) [][]T {
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return comparePartKeys(keys[a], keys[b]) })
	sorted := make([][]T, len(parts))
	for i, j := range order {
		sorted[i] = parts[j]
	}
	return sorted
}
