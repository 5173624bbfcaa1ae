package lb_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/traffic"
)

// route returns a routing state JSON with one route to addrs.
func stateJSON(version int64, name, prefix string, addrs ...string) string {
	var bs []string
	for i, a := range addrs {
		platform := "marathon"
		if i%2 == 1 {
			platform = "kubernetes"
		}
		bs = append(bs, fmt.Sprintf(`{"address":%q,"weight":1,"platform":%q,"app":"demo/%s","id":"%s-%d"}`, a, platform, name, name, i))
	}
	return fmt.Sprintf(`{"version":%d,"routes":[{"name":%q,"host":"","pathPrefix":%q,"backends":[%s]}]}`, version, name, prefix, strings.Join(bs, ","))
}

// TestAdminToken: every admin request but GET /healthz needs the bearer token.
func TestAdminToken(t *testing.T) {
	n := startNginx(t, nginxSetup{})
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"healthz open", "GET", "/healthz", "", 200},
		{"routes without token", "GET", "/routes", "", 401},
		{"routes wrong token", "GET", "/routes", "Bearer " + strings.Repeat("0", len(n.Token)), 401},
		{"routes token prefix", "GET", "/routes", "Bearer " + n.Token[:10], 401},
		{"routes token longer", "GET", "/routes", "Bearer " + n.Token + "0", 401},
		{"routes basic auth", "GET", "/routes", "Basic " + n.Token, 401},
		{"routes right token", "GET", "/routes", "Bearer " + n.Token, 200},
		{"scheme case-insensitive", "GET", "/routes", "bearer " + n.Token, 200},
		{"put without token", "PUT", "/routes", "", 401},
		{"delete without token", "DELETE", "/routes/x", "", 401},
		{"stats without token", "GET", "/stats", "", 401},
		{"metrics without token", "GET", "/metrics", "", 401},
		{"stub_status without token", "GET", "/stub_status", "", 401},
		{"stub_status with token", "GET", "/stub_status", "Bearer " + n.Token, 200},
		{"healthz POST needs the token", "POST", "/healthz", "", 401},
		{"unknown path without token", "GET", "/nope", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+n.Admin+tt.path, strings.NewReader(`{"version":99,"routes":[]}`))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := adminClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error  string `json:"error"`
				Status string `json:"status"`
			}
			if tt.path != "/stub_status" || tt.want != 200 {
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %+v, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
			if tt.want == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="switchyard"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if !strings.Contains(body.Error, "token") {
					t.Errorf("error %q does not mention the token", body.Error)
				}
			}
		})
	}
	// Nothing was changed by the refused PUT.
	if code, body := n.Do("GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"version":0`) {
		t.Fatalf("healthz = %d %s", code, body)
	}
}

// TestBounds: out-of-bounds states are refused with 400 naming the field,
// and nothing of them is applied.
func TestBounds(t *testing.T) {
	n := startNginx(t, nginxSetup{})
	be := startBackend(t, "127.0.0.2", "a")
	n.MustDo("PUT", "/routes", stateJSON(5, "web", "/", be.Addr))

	backend := func(weight string) string {
		return `{"version":6,"routes":[{"name":"web","backends":[{"address":"` + be.Addr + `","weight":` + weight + `,"platform":"marathon"}]}]}`
	}
	many := func(routes, backends int) string {
		var rs []string
		for i := 0; i < routes; i++ {
			var bs []string
			for j := 0; j < backends; j++ {
				bs = append(bs, fmt.Sprintf(`{"address":"127.1.%d.%d:80","weight":1,"platform":"marathon"}`, j/250, j%250+1))
			}
			rs = append(rs, fmt.Sprintf(`{"name":"r%d","pathPrefix":"/r%d","backends":[%s]}`, i, i, strings.Join(bs, ",")))
		}
		return `{"version":6,"routes":[` + strings.Join(rs, ",") + `]}`
	}
	bad := []struct{ name, body, want string }{
		{"weight 1e308 (was stored negative and froze routing)", backend("1e308"), "routes[0].backends[0].weight"},
		{"weight above 1000000", backend("1000001"), "routes[0].backends[0].weight: must be an integer between 0 and 1000000"},
		{"negative weight", backend("-1"), "routes[0].backends[0].weight"},
		{"fractional weight", backend("1.5"), "routes[0].backends[0].weight"},
		{"weight a string", backend(`"1"`), "routes[0].backends[0].weight"},
		{"version 2^53+1", `{"version":9007199254740993,"routes":[]}`, "version: must be an integer between 0 and 9007199254740992"},
		{"version 2^53+2", `{"version":9007199254740994,"routes":[]}`, "version: must be an integer"},
		{"version 1e300", `{"version":1e300,"routes":[]}`, "version: must be an integer"},
		{"negative version", `{"version":-1,"routes":[]}`, "version: must be an integer"},
		{"unknown state field", `{"version":6,"routes":[],"extra":1}`, "extra: unknown field"},
		{"unknown route field", `{"version":6,"routes":[{"name":"x","weight":3}]}`, "routes[0].weight: unknown field"},
		{"unknown backend field", `{"version":6,"routes":[{"name":"x","backends":[{"address":"127.0.0.9:80","weight":1,"platform":"marathon","zone":"a"}]}]}`, "routes[0].backends[0].zone: unknown field"},
		{"routes an object", `{"version":6,"routes":{"name":"x"}}`, "routes: must be an array"},
		{"backends an object", `{"version":6,"routes":[{"name":"x","backends":{}}]}`, "routes[0].backends: must be an array"},
		{"owner too long", `{"version":6,"routes":[{"name":"x","owner":"` + strings.Repeat("a", 129) + `"}]}`, "routes[0].owner"},
		{"owner bad characters", `{"version":6,"routes":[{"name":"x","owner":"migrate web"}]}`, "routes[0].owner"},
		{"10001 routes", many(10001, 0), "routes: 10001 routes, at most 10000"},
		{"1001 backends", many(1, 1001), "routes[0].backends: 1001 backends, at most 1000 per route"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, body := n.Do("PUT", "/routes", tt.body)
			if code != 400 || !strings.Contains(body, tt.want) {
				t.Fatalf("PUT = %d %s, want 400 naming %q", code, body, tt.want)
			}
		})
	}
	// One route at a time is bounded too.
	if code, body := n.Do("PUT", "/routes/web", `{"backends":[{"address":"`+be.Addr+`","weight":1e308,"platform":"marathon"}]}`); code != 400 || !strings.Contains(body, "routes[0].backends[0].weight") {
		t.Fatalf("PUT /routes/web with weight 1e308 = %d %s", code, body)
	}
	// Nothing was applied, and routing still works.
	if code, body := n.Do("GET", "/healthz", ""); !strings.Contains(body, `"version":5,"routes":1`) {
		t.Fatalf("healthz after refusals = %d %s", code, body)
	}
	for i := 0; i < 3; i++ {
		if code, body := get(t, n.Public, "x.test", "/"); code != 200 || !strings.HasPrefix(body, "a GET") {
			t.Fatalf("routing after refusals: %d %s", code, body)
		}
	}

	// The bounds themselves are accepted, and owner round-trips.
	top := `{"version":9007199254740992,"routes":[{"name":"web","host":"","pathPrefix":"/","owner":"migrate/demo/web:1","backends":[{"address":"` + be.Addr + `","weight":1000000,"platform":"kubernetes","app":"a","id":"p"}]}]}`
	if got := n.MustDo("PUT", "/routes", top); got != top {
		t.Fatalf("PUT at the bounds answered\n%s\nwant\n%s", got, top)
	}
	if got := n.MustDo("GET", "/routes/web", ""); !strings.Contains(got, `"owner":"migrate/demo/web:1"`) {
		t.Fatalf("GET /routes/web = %s, want the owner", got)
	}
	if code, body := get(t, n.Public, "x.test", "/"); code != 200 {
		t.Fatalf("routing with weight 1000000: %d %s", code, body)
	}
	// No version is newer than 2^53: a route change says so.
	if code, body := n.Do("PUT", "/routes/web", `{"backends":[]}`); code != 409 || !strings.Contains(body, "version") {
		t.Fatalf("PUT /routes/web at version 2^53 = %d %s, want 409", code, body)
	}
}

// TestBackendsAllowList: backends only in the configured CIDRs, loopback
// included only when a CIDR covers it.
func TestBackendsAllowList(t *testing.T) {
	tests := []struct {
		name    string
		cidrs   []string
		address string
		ok      bool
	}{
		{"loopback not configured", []string{"10.244.0.0/16"}, "127.0.0.2:80", false},
		{"pod network", []string{"10.244.0.0/16"}, "10.244.3.4:8080", true},
		{"outside the pod network", []string{"10.244.0.0/16"}, "10.245.0.1:8080", false},
		{"second network", []string{"10.244.0.0/16", "192.168.1.0/24"}, "192.168.1.9:80", true},
		{"public address", []string{"10.244.0.0/16", "127.0.0.0/8"}, "8.8.8.8:53", false},
		{"loopback configured", []string{"127.0.0.0/8"}, "127.0.0.2:80", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNginx(t, nginxSetup{CIDRs: tt.cidrs})
			code, body := n.Do("PUT", "/routes", `{"version":1,"routes":[{"name":"x","backends":[{"address":"`+tt.address+`","weight":1,"platform":"marathon"}]}]}`)
			if tt.ok && code != 200 {
				t.Fatalf("PUT = %d %s, want 200", code, body)
			}
			if !tt.ok && (code != 400 || !strings.Contains(body, "routes[0].backends[0].address") || !strings.Contains(body, "not in the backends networks")) {
				t.Fatalf("PUT = %d %s, want 400 naming the address", code, body)
			}
		})
	}
}

// TestOperatorConfigKeepsWorking: the operator's own server and locations
// answer next to the module's location.
func TestOperatorConfigKeepsWorking(t *testing.T) {
	own := startBackend(t, "127.0.0.5", "operator")
	n := startNginx(t, nginxSetup{OperatorBackend: own.Addr})
	a := startBackend(t, "127.0.0.2", "a")
	n.MustDo("PUT", "/routes", stateJSON(1, "web", "/web", a.Addr))
	checks := []struct {
		addr, host, path string
		code             int
		prefix           string
	}{
		{n.Public, "x.test", "/operator/ping", 200, "operator ping"},
		{n.Public, "x.test", "/operator/app", 200, "operator GET /operator/app"},
		{n.Other, "x.test", "/web", 200, "other server"},
		{n.Public, "x.test", "/web/x", 200, "a GET /web/x"},
		{n.Public, "x.test", "/webx", 404, "switchyard: no route"},
	}
	for _, c := range checks {
		code, body := get(t, c.addr, c.host, c.path)
		if code != c.code || !strings.HasPrefix(body, c.prefix) {
			t.Errorf("GET %s%s = %d %q, want %d %q", c.addr, c.path, code, body, c.code, c.prefix)
		}
	}
}

// TestStatePersistedAcrossRestart: each change is in routes.json before the
// 200; a restarted nginx routes the same, with a new instance id.
func TestStatePersistedAcrossRestart(t *testing.T) {
	n := startNginx(t, nginxSetup{})
	a := startBackend(t, "127.0.0.2", "a")
	b := startBackend(t, "127.0.0.3", "b")
	stored := n.MustDo("PUT", "/routes", stateJSON(41, "web", "/", a.Addr))
	file := filepath.Join(n.StateDir, "routes.json")
	data, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(data)) != stored {
		t.Fatalf("routes.json = %q, %v; want what PUT answered %q", data, err, stored)
	}
	stored = n.MustDo("PUT", "/routes/api", `{"pathPrefix":"/api","owner":"sync","backends":[{"address":"`+b.Addr+`","weight":2,"platform":"kubernetes"}]}`)
	if data, _ := os.ReadFile(file); strings.TrimSpace(string(data)) != stored {
		t.Fatalf("routes.json after PUT /routes/api = %s, want %s", data, stored)
	}
	if ents, _ := os.ReadDir(n.StateDir); len(ents) != 1 {
		t.Errorf("state dir holds %d files, want only routes.json", len(ents))
	}
	var before struct{ Instance string }
	_, hz := n.Do("GET", "/healthz", "")
	json.Unmarshal([]byte(hz), &before)

	n.Restart()
	code, hz := n.Do("GET", "/healthz", "")
	var after struct {
		Version, Routes int
		Instance        string
	}
	if err := json.Unmarshal([]byte(hz), &after); err != nil || code != 200 || after.Version != 42 || after.Routes != 2 {
		t.Fatalf("healthz after restart = %d %s", code, hz)
	}
	if len(after.Instance) != 16 || after.Instance == before.Instance {
		t.Errorf("instance %q after restart, %q before: want a new 16-hex-digit id", after.Instance, before.Instance)
	}
	if got := n.MustDo("GET", "/routes", ""); got != stored {
		t.Errorf("routes after restart = %s, want %s", got, stored)
	}
	if code, body := get(t, n.Public, "x", "/api/1"); code != 200 || !strings.HasPrefix(body, "b ") {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if code, body := get(t, n.Public, "x", "/"); code != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

// TestRefusesToStart: nginx does not start on a state file or token file it
// cannot trust, and says which file.
func TestRefusesToStart(t *testing.T) {
	tests := []struct {
		name  string
		setup func(n *lbNginx)
		want  []string
	}{
		{"empty state file", func(n *lbNginx) { write(t, filepath.Join(n.StateDir, "routes.json"), "") },
			[]string{"routes.json is empty"}},
		{"blank state file", func(n *lbNginx) { write(t, filepath.Join(n.StateDir, "routes.json"), " \n") },
			[]string{"routes.json is empty"}},
		{"truncated state file", func(n *lbNginx) { write(t, filepath.Join(n.StateDir, "routes.json"), `{"version":`) },
			[]string{"routes.json", "invalid JSON"}},
		{"out-of-bounds state file", func(n *lbNginx) {
			write(t, filepath.Join(n.StateDir, "routes.json"), `{"version":1,"routes":[{"name":"x","backends":[{"address":"127.0.0.2:80","weight":1e308,"platform":"marathon"}]}]}`)
		}, []string{"routes.json", "routes[0].backends[0].weight"}},
		{"unreadable state file", func(n *lbNginx) { os.Mkdir(filepath.Join(n.StateDir, "routes.json"), 0o755) },
			[]string{"routes.json"}},
		{"missing token file", func(n *lbNginx) { os.Remove(n.TokenFile) }, []string{"admin token file", "admin.token"}},
		{"empty token file", func(n *lbNginx) { write(t, n.TokenFile, "\n") }, []string{"admin token file", "admin.token", "is empty"}},
		{"missing state dir", func(n *lbNginx) { os.RemoveAll(n.StateDir) }, []string{"state directory", "/state: No such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNginx(t, nginxSetup{})
			tt.setup(n)
			log := n.StartFails()
			for _, w := range tt.want {
				if w != "" && !strings.Contains(log, w) {
					t.Errorf("nginx output lacks %q:\n%s", w, log)
				}
			}
		})
	}
	// A missing state file is "no routes yet".
	n := startNginx(t, nginxSetup{})
	if code, body := n.Do("GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"version":0,"routes":0`) {
		t.Fatalf("healthz with no state file = %d %s", code, body)
	}
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatistics: /stats and /metrics count requests per route and platform,
// 5xx and latency, across workers, within about a second.
func TestStatistics(t *testing.T) {
	n := startNginx(t, nginxSetup{Workers: 2})
	a := startBackend(t, "127.0.0.2", "a")
	b := startBackend(t, "127.0.0.3", "b")
	n.MustDo("PUT", "/routes", `{"version":3,"routes":[
	  {"name":"web","pathPrefix":"/web","backends":[
	    {"address":"`+a.Addr+`","weight":1,"platform":"marathon"},
	    {"address":"`+b.Addr+`","weight":1,"platform":"kubernetes"}]},
	  {"name":"empty","pathPrefix":"/empty","backends":[{"address":"`+a.Addr+`","weight":0,"platform":"marathon"}]}]}`)

	const perClient, clients = 50, 4
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				path := "/web/ok"
				if i%5 == 0 {
					path = "/web/status/503"
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+n.Public+path, nil)
				resp, err := publicClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		get(t, n.Public, "x", "/nowhere")
	}
	for i := 0; i < 2; i++ {
		if code, _ := get(t, n.Public, "x", "/empty"); code != 503 {
			t.Fatalf("empty pool answered %d", code)
		}
	}
	total := int64(perClient * clients)

	var doc traffic.InstanceStats
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, body := n.Do("GET", "/stats", "")
		doc = traffic.InstanceStats{}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("/stats is not JSON: %v\n%s", err, body)
		}
		var got int64
		for _, s := range doc.Series {
			got += s.Requests
		}
		if got == total+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stats counts %d requests after 3 s, want %d:\n%s", got, total+5, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantBounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	if fmt.Sprint(doc.Bounds) != fmt.Sprint(wantBounds) {
		t.Errorf("bounds = %v", doc.Bounds)
	}
	if doc.Version != 3 || len(doc.Instance) != 16 {
		t.Errorf("version %d instance %q", doc.Version, doc.Instance)
	}
	got := map[string][2]int64{}
	for _, s := range doc.Series {
		got[s.Route+"/"+s.Platform] = [2]int64{s.Requests, s.Errors5xx}
		var sum int64
		for _, c := range s.Buckets {
			sum += c
		}
		if len(s.Buckets) != len(wantBounds)+1 || sum != s.Requests {
			t.Errorf("%s/%s: buckets %v (sum %d) for %d requests", s.Route, s.Platform, s.Buckets, sum, s.Requests)
		}
		if s.SumSeconds < 0 || math.IsNaN(s.SumSeconds) || s.SumSeconds > float64(s.Requests) {
			t.Errorf("%s/%s: sumSeconds %v", s.Route, s.Platform, s.SumSeconds)
		}
	}
	m, k := got["web/marathon"], got["web/kubernetes"]
	// Each worker balances on its own: the split is even per worker.
	if m[0]+k[0] != total || m[0] < total*4/10 || k[0] < total*4/10 {
		t.Errorf("web: marathon %v kubernetes %v, want %d requests split about evenly", m, k, total)
	}
	if m[1]+k[1] != total/5 {
		t.Errorf("web: %d+%d 5xx, want %d", m[1], k[1], total/5)
	}
	if got["/none"] != [2]int64{3, 0} {
		t.Errorf("no route: %v, want 3 requests under route \"\" platform none", got["/none"])
	}
	if got["empty/none"] != [2]int64{2, 2} {
		t.Errorf("empty pool: %v, want 2 requests, 2 5xx", got["empty/none"])
	}

	// /metrics says the same in the Prometheus text format.
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.Admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.Token)
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, name := range []string{"switchyard_lb_requests_total", "switchyard_lb_responses_5xx_total",
		"switchyard_lb_request_duration_seconds", "switchyard_lb_routing_state_version", "switchyard_lb_instance_info"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	var requests float64
	for _, mt := range fams["switchyard_lb_requests_total"].GetMetric() {
		requests += mt.GetCounter().GetValue()
	}
	if int64(requests) != total+5 {
		t.Errorf("/metrics counts %v requests, want %d", requests, total+5)
	}
	for _, mt := range fams["switchyard_lb_request_duration_seconds"].GetMetric() {
		h := mt.GetHistogram()
		bs := h.GetBucket()
		if len(bs) != len(wantBounds)+1 || bs[len(bs)-1].GetUpperBound() != math.Inf(1) || bs[len(bs)-1].GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("histogram %v: %d buckets, count %d", mt.GetLabel(), len(bs), h.GetSampleCount())
		}
	}
	if v := fams["switchyard_lb_routing_state_version"].GetMetric()[0].GetGauge().GetValue(); v != 3 {
		t.Errorf("routing_state_version = %v", v)
	}
	if l := fams["switchyard_lb_instance_info"].GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != doc.Instance {
		t.Errorf("instance_info labels %v, want instance %s", l, doc.Instance)
	}
}

// TestAdminTLSAndReload: with --admin-tls-cert/-key the admin server speaks
// TLS; a reload (SIGHUP) keeps the routes, the statistics and the instance.
func TestAdminTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin.key")
	writeSelfSigned(t, cert, key)
	n := newNginx(t, nginxSetup{Modify: func(o *lb.Options) { o.AdminTLSCert, o.AdminTLSKey = cert, key }})
	n.launch()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "https://"+n.Admin+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.Token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := do("GET", "/healthz", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS admin server: %s", n.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := n.admin("GET", "/healthz", "", ""); code == 200 {
		t.Fatalf("plain HTTP on the TLS admin listener answered 200: %s", body)
	}
	a := startBackend(t, "127.0.0.2", "a")
	if code, body := do("PUT", "/routes", stateJSON(1, "web", "/", a.Addr)); code != 200 {
		t.Fatalf("PUT over TLS = %d %s", code, body)
	}
	for i := 0; i < 5; i++ {
		get(t, n.Public, "x", "/")
	}
	_, hz := do("GET", "/healthz", "")
	time.Sleep(1100 * time.Millisecond) // the statistics flush

	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if code, _ := get(t, n.Public, "x", "/"); code != 200 {
			t.Fatalf("after reload: %d", code)
		}
	}
	_, hz2 := do("GET", "/healthz", "")
	if hz2 != hz {
		t.Errorf("healthz before reload %s, after %s: want the same version and instance", hz, hz2)
	}
	deadline = time.Now().Add(3 * time.Second)
	for {
		_, body := do("GET", "/stats", "")
		if strings.Contains(body, `"route":"web","platform":"marathon","requests":10,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats after reload: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchyard-admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}

// TestRetryAvoidsTheFailedBackend: a backend that refuses connections costs
// a retry on another backend of the pool (GET and POST), even when it has
// most of the weight, and is then avoided for a while.
func TestRetryAvoidsTheFailedBackend(t *testing.T) {
	n := startNginx(t, nginxSetup{Workers: 1})
	good := startBackend(t, "127.0.0.2", "good")
	gone := testenv.FreeAddr(t, "127.0.0.3") // nothing listens there
	n.MustDo("PUT", "/routes", `{"version":1,"routes":[{"name":"web","backends":[
	  {"address":"`+gone+`","weight":100,"platform":"kubernetes"},
	  {"address":"`+good.Addr+`","weight":1,"platform":"marathon"}]}]}`)
	for i := 0; i < 20; i++ {
		method := http.MethodGet
		if i%2 == 1 {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, "http://"+n.Public+"/x", strings.NewReader("hello"))
		resp, err := publicClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "good "+method) {
			t.Fatalf("%s %d: %d %s\n%s", method, i, resp.StatusCode, body, n.Log())
		}
	}
	// The statistics count the backend that answered (the last try).
	time.Sleep(1100 * time.Millisecond)
	if _, body := n.Do("GET", "/stats", ""); !strings.Contains(body, `{"route":"web","platform":"marathon","requests":20,"errors5xx":0,`) {
		t.Fatalf("stats: %s", body)
	}
}

// TestRejectsFromTheBalancer: the balancer routes; a request with no route
// gets 404 and one whose pool is empty 503, with the contract's bodies, for
// GET and for a POST with a body, counted under route "" and the route's
// "none" platform, and nothing in the error log.
func TestRejectsFromTheBalancer(t *testing.T) {
	accessLog := filepath.Join(t.TempDir(), "access.log")
	n := startNginx(t, nginxSetup{Workers: 1, Modify: func(o *lb.Options) { o.AccessLog = accessLog }})
	a := startBackend(t, "127.0.0.2", "a")
	n.MustDo("PUT", "/routes", `{"version":1,"routes":[
	  {"name":"web","pathPrefix":"/web","backends":[{"address":"`+a.Addr+`","weight":1,"platform":"marathon","app":"team a/web"}]},
	  {"name":"empty","pathPrefix":"/empty","backends":[{"address":"`+a.Addr+`","weight":0,"platform":"marathon"}]}]}`)
	do := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+n.Public+path, strings.NewReader("some body"))
		req.Host = "x.test"
		resp, err := publicClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, method := range []string{"GET", "POST"} {
		if code, body := do(method, "/nowhere/x"); code != 404 || body != "switchyard: no route for host \"x.test\" and path \"/nowhere/x\"\n" {
			t.Errorf("%s /nowhere/x = %d %q", method, code, body)
		}
		if code, body := do(method, "/empty/x"); code != 503 || body != "switchyard: route \"empty\" has no backend with weight > 0\n" {
			t.Errorf("%s /empty/x = %d %q", method, code, body)
		}
		if code, body := do(method, "/web/x"); code != 200 || !strings.HasPrefix(body, "a "+method+" /web/x") {
			t.Errorf("%s /web/x = %d %q", method, code, body)
		}
	}
	want := map[string]int64{"\tnone": 2, "empty\tnone": 2, "web\tmarathon": 2}
	deadline := time.Now().Add(3 * time.Second)
	for {
		var doc traffic.InstanceStats
		_, body := n.Do("GET", "/stats", "")
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, s := range doc.Series {
			got[s.Route+"\t"+s.Platform] = s.Requests
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stats series %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if log := n.Log(); strings.Contains(log, "[error]") || strings.Contains(log, "[warn]") {
		t.Errorf("error log:\n%s", log)
	}
	// The access log's route, platform and app (split from the one
	// variable the balancer writes) for each kind of request.
	n.Stop() // flushes the log buffer
	data, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct{ Route, Platform, App, Path string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s route=%q platform=%q app=%q", e.Path, e.Route, e.Platform, e.App))
	}
	var wantLog []string
	for range 2 {
		wantLog = append(wantLog, `/nowhere/x route="-" platform="" app=""`, `/empty/x route="empty" platform="" app=""`,
			`/web/x route="web" platform="marathon" app="team a/web"`)
	}
	if strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}
