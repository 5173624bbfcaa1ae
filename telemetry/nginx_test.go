package telemetry_test

// Tests against real nginx with the load-balancer module (package
// labnginx, started on ephemeral loopback ports by nginxtest) and real Go
// backends on 127.0.0.x.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/nginx/nginxtest"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var update = flag.Bool("update", false, "rewrite testdata/stats from real nginx (TestStatsSamples)")

// lbFleet is nginx instances (each with its own admin API) sharing one
// routing state, as a context's fleet, and the backends of route "web".
type lbFleet struct {
	nginx    []*nginxtest.Instance
	fleet    *traffic.Fleet
	marathon *nginxtest.Backend
	kube     *nginxtest.Backend
}

// startFleet starts n nginx instances named lb-1..lb-n and routes web.test
// ("web") to one Marathon and one Kubernetes backend, each getting
// kubePercent and 100-kubePercent of the requests. A second route, "down",
// goes to a Marathon backend nothing listens on: its requests are 502.
func startFleet(t *testing.T, n, kubePercent int) *lbFleet {
	t.Helper()
	f := &lbFleet{}
	var clients []*traffic.Client
	for i := range n {
		in := nginxtest.Start(t, nil)
		f.nginx = append(f.nginx, in)
		c := in.Nginx.TrafficClient().Instances[0]
		c.Name = fmt.Sprintf("lb-%d", i+1)
		clients = append(clients, c)
	}
	f.fleet = traffic.NewFleet([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, clients...)
	f.marathon = nginxtest.StartBackend(t, "127.0.0.2", "m1")
	f.kube = nginxtest.StartBackend(t, "127.0.0.3", "k1")
	pool, err := traffic.SplitWeights(
		[]traffic.Backend{{Address: f.marathon.Addr, Platform: traffic.Marathon, App: "/web", ID: "m1"}},
		[]traffic.Backend{{Address: f.kube.Addr, Platform: traffic.Kubernetes, App: "/web", ID: "k1"}}, kubePercent)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.fleet.SetRoute(ctx, traffic.Route{Name: "web", Host: "web.test", Backends: pool}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.fleet.SetRoute(ctx, traffic.Route{Name: "down", Host: "down.test", Backends: []traffic.Backend{
		{Address: "127.0.0.4:9", Weight: 1, Platform: traffic.Marathon, App: "/down", ID: "d1"}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// send sends requests to host through every instance (requests each).
func (f *lbFleet) send(t *testing.T, host string, requests int64) {
	t.Helper()
	for _, in := range f.nginx {
		res := loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Host: host, Conns: 2, Requests: requests})
		if res.Sent != requests {
			t.Fatalf("%s through %s: sent %d of %d requests: %v", host, in.PublicAddr(), res.Sent, requests, res.Errors)
		}
	}
}

// stats returns instance i's /stats body as nginx wrote it, once its
// counters hold want requests in all (the module flushes its workers'
// counters about every second).
func (f *lbFleet) stats(t *testing.T, i int, want int64) []byte {
	t.Helper()
	n := f.nginx[i].Nginx
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := n.AdminHTTPClient().Get(n.AdminURL() + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/stats: %s %v", n.AdminURL(), resp.Status, err)
		}
		st, err := traffic.DecodeStats(body)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for _, s := range st.Series {
			got += s.Requests
		}
		if got >= want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d requests counted after 10s, want %d", f.fleet.Instances[i], got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStatsSamples keeps testdata/stats representative of the module:
// with -update it rewrites the samples from real nginx (two instances,
// then the first one restarted); without, it checks that the module still
// reports the samples' histogram layout and series.
func TestStatsSamples(t *testing.T) {
	f := startFleet(t, 2, 50)
	samples := map[string][]byte{}
	f.send(t, "web.test", 200)
	f.send(t, "down.test", 10)
	f.send(t, "nothing.test", 5)
	samples["lb1-a.json"] = f.stats(t, 0, 215)
	samples["lb2-a.json"] = f.stats(t, 1, 215)
	f.send(t, "web.test", 100)
	samples["lb1-b.json"] = f.stats(t, 0, 315)
	f.nginx[0].Restart()
	f.send(t, "web.test", 40)
	samples["lb1-c.json"] = f.stats(t, 0, 40)

	dir := filepath.Join("testdata", "stats")
	for name, body := range samples {
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := traffic.DecodeStats(body)
		if err != nil {
			t.Fatal(err)
		}
		want := readStats(t, name)
		if !slices.Equal(got.Bounds, want.Bounds) {
			t.Errorf("%s: the module's bounds are %v, the sample's %v: run go test ./telemetry -run TestStatsSamples -update", name, got.Bounds, want.Bounds)
		}
		if keys(got) != keys(want) {
			t.Errorf("%s: the module reports series %s, the sample %s: run go test ./telemetry -run TestStatsSamples -update", name, keys(got), keys(want))
		}
	}
}

// keys lists the route/platform pairs of a sample.
func keys(st *traffic.InstanceStats) string {
	var out []string
	for _, s := range st.Series {
		out = append(out, s.Route+"/"+s.Platform)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}
