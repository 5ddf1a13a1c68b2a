package plasma

import "sort"

// WriteRangesMax bounds the number of disjoint written ranges tracked for
// one unsealed object. Chunks written in order, or out of order within a
// pull window, stay far below it; a write that would exceed it fails with
// ErrFragmented rather than let the bookkeeping of one object grow with its
// size.
const WriteRangesMax = 1024

// span is the half-open byte range [start, end).
type span struct{ start, end int64 }

// ranges is the set of written byte ranges of an unsealed object: sorted,
// disjoint and never adjacent (touching ranges are merged). Tracking ranges
// instead of a byte count makes Seal correct when chunks arrive out of
// order or more than once, as network pulls may deliver them.
type ranges []span

// window returns the indexes [i, j) of the spans that [start, end) touches
// or overlaps, which an insertion merges into one.
func (r ranges) window(start, end int64) (i, j int) {
	i = sort.Search(len(r), func(k int) bool { return r[k].end >= start })
	j = sort.Search(len(r), func(k int) bool { return r[k].start > end })
	return i, j
}

// lenAfterAdd returns the number of spans after adding [start, end).
func (r ranges) lenAfterAdd(start, end int64) int {
	i, j := r.window(start, end)
	return len(r) - (j - i) + 1
}

// add returns r with [start, end) added. Empty ranges change nothing.
func (r ranges) add(start, end int64) ranges {
	if start >= end {
		return r
	}
	i, j := r.window(start, end)
	if i < j {
		start = min(start, r[i].start)
		end = max(end, r[j-1].end)
	}
	// Replace r[i:j] with the merged span.
	switch {
	case j-i == 1:
		r[i] = span{start, end}
		return r
	case i == j:
		r = append(r, span{})
		copy(r[i+1:], r[i:])
		r[i] = span{start, end}
		return r
	default:
		r[i] = span{start, end}
		return append(r[:i+1], r[j:]...)
	}
}

// covers reports whether r covers [0, size) entirely.
func (r ranges) covers(size int64) bool {
	if size == 0 {
		return true
	}
	return len(r) == 1 && r[0].start == 0 && r[0].end == size
}

// written returns the number of bytes covered by r.
func (r ranges) written() int64 {
	var n int64
	for _, s := range r {
		n += s.end - s.start
	}
	return n
}
