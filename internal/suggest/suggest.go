// Package suggest finds the known name a mistyped one most likely meant,
// for "did you mean" hints in configuration and flow errors.
package suggest

import (
	"fmt"
	"strings"
)

// Hint returns `; did you mean "x"?` for the known name closest to name,
// when one is close enough to be a likely typo, and "" otherwise. Case is
// ignored when comparing.
func Hint(name string, known []string) string {
	// A typo changes a few characters; a distance as long as the name
	// itself only means the name is short.
	best, bestDist := "", min(max(1, len(name)/3), len(name)-1)+1
	for _, k := range known {
		if d := EditDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
