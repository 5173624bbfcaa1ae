// Package suggest finds the known name closest to a misspelt one, for the
// "did you mean" hints of the validators (app.yaml, Marathon definitions).
package suggest

import "strings"

// Closest returns the candidate closest to name by edit distance, ignoring
// case, and that distance; the first of equally close candidates wins. It
// returns "" and -1 when there are no candidates.
func Closest(name string, candidates []string) (string, int) {
	best, bestD := "", -1
	lower := strings.ToLower(name)
	for _, c := range candidates {
		if d := Distance(lower, strings.ToLower(c)); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// Distance is the Levenshtein distance between a and b (bytes).
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
