package dag

import (
	"slices"
	"testing"
)

func TestFindCycle(t *testing.T) {
	cases := []struct {
		name  string
		succs [][]int
		want  []int
	}{
		{"acyclic", [][]int{{1, 2}, {2}, {}}, nil},
		{"three nodes", [][]int{{1}, {2}, {0}}, []int{0, 1, 2, 0}},
		{"cycle after a tail", [][]int{{1}, {2}, {3}, {1}}, []int{1, 2, 3, 1}},
		{"empty graph", nil, nil},
	}
	for _, tc := range cases {
		got := FindCycle(len(tc.succs), func(i int) []int { return tc.succs[i] })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
