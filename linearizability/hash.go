package linearizability

// FNV-1a parameters. The models hash one small slot per partition, so a
// cheap, allocation-free hash is enough: porcupine uses it only to bucket
// states before comparing them with Equal, and a collision costs an extra
// comparison, never a wrong answer.
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

// hashSlot hashes a slot that is either empty or holds s.
func hashSlot(present bool, s string) uint64 {
	if !present {
		return fnvOffset64
	}
	h := fnvOffset64 ^ 0xff // distinguishes "holds empty string" from "empty"
	h *= fnvPrime64
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// hashString continues hash h with s, after a separator byte, so that a
// list of strings hashes differently from their concatenation (mostly: a
// collision only costs porcupine an Equal).
func hashString(h uint64, s string) uint64 {
	h ^= 0xfe
	h *= fnvPrime64
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}
