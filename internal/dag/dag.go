// Package dag holds graph algorithms shared by the configuration checker
// and the flow compiler.
package dag

import "slices"

// FindCycle returns the nodes of one cycle of a directed graph of n nodes,
// in path order with the first node repeated at the end, or nil when the
// graph is acyclic. succs returns the successors of node i.
func FindCycle[T ~int | ~int32](n int, succs func(i int) []T) []int {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]uint8, n)
	var stack, found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = onStack
		stack = append(stack, i)
		for _, t := range succs(i) {
			s := int(t)
			switch state[s] {
			case onStack:
				found = append(slices.Clone(stack[slices.Index(stack, s):]), s)
				return true
			case unvisited:
				if visit(s) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return false
	}
	for i := 0; i < n; i++ {
		if state[i] == unvisited && visit(i) {
			return found
		}
	}
	return nil
}
