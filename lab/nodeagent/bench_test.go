package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// BenchmarkPodStartToReady creates 100 demo-app pods (readiness probe
// httpGet /ready every 1s) across the lab's nodes and reports the latency
// from each pod's create call to the API showing it Ready: p50 and p99.
// Run with -benchtime=1x (one round of 100 pods per iteration).
func BenchmarkPodStartToReady(b *testing.B) {
	e := need(b)
	ctx := context.Background()
	const pods = 100
	// Every lab node takes part: give the zero-share node a share for the run.
	cfg := e.cfg
	cfg.Nodes = append([]labconfig.Node{}, e.cfg.Nodes...)
	cfg.Nodes[2].KubernetesShare = &labconfig.Resources{CPUs: 2, Mem: 4096, Disk: 10240}
	writeCfg := func(c labconfig.Config) {
		data, _ := c.Marshal()
		time.Sleep(1100 * time.Millisecond)
		if err := os.WriteFile(e.cfgPath, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writeCfg(cfg)
	defer writeCfg(e.cfg)
	waitFor(b, 20*time.Second, "node-3 schedulable", func() (bool, string) {
		n, err := e.cs.CoreV1().Nodes().Get(ctx, cfg.Nodes[2].Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		q := n.Status.Allocatable[corev1.ResourcePods]
		return q.Value() > 0, q.String()
	})

	var all, toRunning []time.Duration
	perNode := map[string]int{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := e.namespace(b)
		var mu sync.Mutex
		created := map[string]time.Time{}
		readyAt := map[string]time.Time{}
		runningAt := map[string]time.Time{}
		done := make(chan struct{})
		var doneOnce sync.Once
		seen := func(obj any) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			now := time.Now()
			if p.Status.Phase == corev1.PodRunning {
				mu.Lock()
				if _, seen := runningAt[p.Name]; !seen {
					runningAt[p.Name] = now
				}
				mu.Unlock()
			}
			if !podReady(p) {
				return
			}
			mu.Lock()
			if _, seen := readyAt[p.Name]; !seen {
				readyAt[p.Name] = now
				perNode[p.Spec.NodeName]++
			}
			n := len(readyAt)
			mu.Unlock()
			if n == pods {
				doneOnce.Do(func() { close(done) })
			}
		}
		// An informer (list+watch with retries) sees each pod turn Ready.
		inf := informers.NewSharedInformerFactoryWithOptions(e.cs, 0, informers.WithNamespace(ns))
		podInf := inf.Core().V1().Pods().Informer()
		if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) },
		}); err != nil {
			b.Fatal(err)
		}
		stopInf := make(chan struct{})
		inf.Start(stopInf)
		inf.WaitForCacheSync(stopInf)
		b.StartTimer()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 10)
		for j := 0; j < pods; j++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				name := fmt.Sprintf("bench-%03d", j)
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{demoContainer()}, TerminationGracePeriodSeconds: int64p(2)},
				}
				t0 := time.Now()
				if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				created[name] = t0
				mu.Unlock()
			}()
		}
		wg.Wait()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			mu.Lock()
			n := len(readyAt)
			mu.Unlock()
			b.Fatalf("only %d of %d pods Ready after 5 minutes", n, pods)
		}
		close(stopInf)
		b.StopTimer()
		mu.Lock()
		for name, t0 := range created {
			all = append(all, readyAt[name].Sub(t0))
			if r, ok := runningAt[name]; ok {
				toRunning = append(toRunning, r.Sub(t0))
			}
		}
		mu.Unlock()
		// Delete the round's pods and wait until they are gone.
		_ = e.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		waitFor(b, 2*time.Minute, "bench pods deleted", func() (bool, string) {
			l, err := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0, fmt.Sprint(len(l.Items))
		})
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	b.ReportMetric(float64(q(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(q(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Milliseconds()), "max-ms")
	sort.Slice(toRunning, func(i, j int) bool { return toRunning[i] < toRunning[j] })
	if len(toRunning) > 0 {
		b.ReportMetric(float64(toRunning[len(toRunning)/2].Milliseconds()), "running-p50-ms")
	}
	b.Logf("%d pods: start-to-Ready p50 %s p99 %s max %s; pods per node %v", len(all), q(0.5), q(0.99), all[len(all)-1], perNode)
}
