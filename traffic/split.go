package traffic

import "fmt"

// SplitWeights returns one pool holding the given Marathon and Kubernetes
// backends, weighted so that Kubernetes receives exactly kubePercent of the
// requests and Marathon the rest, each platform's percentage spread evenly over its
// backends. Input weights and platform labels are replaced; the result uses the smallest integer
// weights that give the exact split. A platform that should receive traffic
// but has no backend is an error (nothing is changed).
func SplitWeights(marathonBackends, kubeBackends []Backend, kubePercent int) ([]Backend, error) {
	if kubePercent < 0 || kubePercent > 100 {
		return nil, fmt.Errorf("kubernetes percentage %d%% must be between 0 and 100", kubePercent)
	}
	nm, nk := len(marathonBackends), len(kubeBackends)
	if kubePercent < 100 && nm == 0 {
		return nil, fmt.Errorf("marathon should receive %d%% of the traffic but has no ready backend", 100-kubePercent)
	}
	if kubePercent > 0 && nk == 0 {
		return nil, fmt.Errorf("kubernetes should receive %d%% of the traffic but has no ready backend", kubePercent)
	}
	// Per backend: Marathon (100-p)*nk, Kubernetes p*nm, so that the totals
	// are (100-p)*nk*nm and p*nm*nk, i.e. exactly (100-p) : p.
	wm, wk := (100-kubePercent)*nk, kubePercent*nm
	if nk == 0 {
		wm = 1
	}
	if nm == 0 {
		wk = 1
	}
	if g := gcd(wm, wk); g > 1 {
		wm, wk = wm/g, wk/g
	}
	out := make([]Backend, 0, nm+nk)
	for _, b := range marathonBackends {
		b.Weight, b.Platform = wm, Marathon
		out = append(out, b)
	}
	for _, b := range kubeBackends {
		b.Weight, b.Platform = wk, Kubernetes
		out = append(out, b)
	}
	return out, nil
}

// Percents returns the percentage of a pool's requests each platform receives
// with these weights (0 for all when no backend has weight > 0).
func Percents(backends []Backend) map[string]float64 {
	total := 0
	per := map[string]int{}
	for _, b := range backends {
		if b.Weight > 0 {
			total += b.Weight
			per[b.Platform] += b.Weight
		}
	}
	out := map[string]float64{}
	for p, w := range per {
		out[p] = 100 * float64(w) / float64(total)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return 1
	}
	return a
}
