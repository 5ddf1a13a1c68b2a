package plasma

import (
	"slices"
	"testing"
)

func TestRangesMergeAndCover(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []span
		want   ranges
		size   int64
		covers bool
	}{
		{"nothing", nil, nil, 10, false},
		{"nothing of nothing", nil, nil, 0, true},
		{"in order", []span{{0, 4}, {4, 8}, {8, 10}}, ranges{{0, 10}}, 10, true},
		{"reverse order", []span{{8, 10}, {4, 8}, {0, 4}}, ranges{{0, 10}}, 10, true},
		{"gap", []span{{0, 4}, {6, 10}}, ranges{{0, 4}, {6, 10}}, 10, false},
		{"gap filled", []span{{0, 4}, {6, 10}, {3, 7}}, ranges{{0, 10}}, 10, true},
		{"duplicate", []span{{0, 4}, {0, 4}}, ranges{{0, 4}}, 4, true},
		{"inside", []span{{0, 10}, {2, 3}}, ranges{{0, 10}}, 10, true},
		{"spans many", []span{{1, 2}, {3, 4}, {5, 6}, {0, 7}}, ranges{{0, 7}}, 7, true},
		{"insert between", []span{{0, 1}, {8, 9}, {4, 5}}, ranges{{0, 1}, {4, 5}, {8, 9}}, 9, false},
		{"empty write", []span{{3, 3}}, nil, 3, false},
	} {
		var r ranges
		for _, w := range tc.writes {
			predicted := r.lenAfterAdd(w.start, w.end)
			r = r.add(w.start, w.end)
			if w.start < w.end && predicted != len(r) {
				t.Errorf("%s: lenAfterAdd(%d, %d) = %d, len after add = %d", tc.name, w.start, w.end, predicted, len(r))
			}
		}
		if !slices.Equal(r, tc.want) {
			t.Errorf("%s: ranges = %v, want %v", tc.name, r, tc.want)
		}
		if got := r.covers(tc.size); got != tc.covers {
			t.Errorf("%s: covers(%d) = %v, want %v", tc.name, tc.size, got, tc.covers)
		}
	}
}
