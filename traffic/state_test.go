package traffic

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/switchyard/switchyard/internal/wanterr"
)

var (
	podNet = netip.MustParsePrefix("10.244.0.0/16")
	// nets is what the lab passes: loopback and its pod network.
	nets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), podNet}
)

func manyRoutes(n int) []Route {
	out := make([]Route, n)
	for i := range out {
		out[i] = Route{Name: "r" + strconv.Itoa(i), PathPrefix: "/r" + strconv.Itoa(i)}
	}
	return out
}

func manyBackends(n int) []Backend {
	out := make([]Backend, n)
	for i := range out {
		out[i] = be("10.244."+strconv.Itoa(i/250)+"."+strconv.Itoa(1+i%250)+":80", 1, Kubernetes)
	}
	return out
}

func be(addr string, w int, platform string) Backend {
	return Backend{Address: addr, Weight: w, Platform: platform, App: "/app"}
}

func TestValidate(t *testing.T) {
	ok := Route{Name: "web", Host: "web.test", PathPrefix: "/", Backends: []Backend{be("127.0.1.1:31000", 1, Marathon), be("10.244.1.5:8080", 0, Kubernetes)}}
	tests := []struct {
		name  string
		state State
		want  []string // substrings of the error; none = valid
	}{
		{"valid", State{Version: 3, Routes: []Route{ok}}, nil},
		{"empty", State{}, nil},
		{"negative version", State{Version: -1}, []string{"version"}},
		{"version beyond 2^53", State{Version: MaxVersion + 1}, []string{"version"}},
		{"bad name", State{Routes: []Route{{Name: "a b"}}}, []string{"routes[0].name"}},
		{"empty name", State{Routes: []Route{{Name: ""}}}, []string{"routes[0].name"}},
		{"duplicate name", State{Routes: []Route{{Name: "a", PathPrefix: "/1"}, {Name: "a", PathPrefix: "/2"}}}, []string{"routes[1].name", "used twice"}},
		{"same host and prefix", State{Routes: []Route{{Name: "a", PathPrefix: "/"}, {Name: "b"}}}, []string{"routes[1]", `already routed by "a"`}},
		{"host with port", State{Routes: []Route{{Name: "a", Host: "web:80"}}}, []string{"routes[0].host"}},
		{"host uppercase", State{Routes: []Route{{Name: "a", Host: "Web"}}}, []string{"routes[0].host"}},
		{"relative prefix", State{Routes: []Route{{Name: "a", PathPrefix: "api"}}}, []string{"routes[0].pathPrefix"}},
		{"foreign address", State{Routes: []Route{{Name: "a", Backends: []Backend{be("192.168.1.1:80", 1, Marathon)}}}}, []string{"routes[0].backends[0].address", "none of the backend CIDRs"}},
		{"outside pod network", State{Routes: []Route{{Name: "a", Backends: []Backend{be("10.245.0.1:80", 1, Marathon)}}}}, []string{"none of the backend CIDRs"}},
		{"owner", State{Routes: []Route{{Name: "a", Owner: "migrate/demo:web-1.x_y"}}}, nil},
		{"owner with space", State{Routes: []Route{{Name: "a", Owner: "migrate/a b"}}}, []string{"routes[0].owner"}},
		{"owner too long", State{Routes: []Route{{Name: "a", Owner: strings.Repeat("o", MaxOwner+1)}}}, []string{"routes[0].owner"}},
		{"owner longest", State{Routes: []Route{{Name: "a", Owner: strings.Repeat("o", MaxOwner)}}}, nil},
		{"max weight", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:80", MaxWeight, Marathon)}}}}, nil},
		{"weight beyond max", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:80", MaxWeight+1, Marathon)}}}}, []string{"backends[0].weight", "1000000"}},
		{"max routes", State{Routes: manyRoutes(MaxRoutes)}, nil},
		{"too many routes", State{Routes: manyRoutes(MaxRoutes + 1)}, []string{"routes: 10001 routes, at most 10000"}},
		{"max backends", State{Routes: []Route{{Name: "a", Backends: manyBackends(MaxBackends)}}}, nil},
		{"too many backends", State{Routes: []Route{{Name: "a", Backends: manyBackends(MaxBackends + 1)}}}, []string{"routes[0].backends: 1001 backends, at most 1000"}},
		{"ipv6", State{Routes: []Route{{Name: "a", Backends: []Backend{be("[::1]:80", 1, Marathon)}}}}, []string{"IPv4:port"}},
		{"no port", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1", 1, Marathon)}}}}, []string{"IPv4:port"}},
		{"port zero", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:0", 1, Marathon)}}}}, []string{"valid port"}},
		{"duplicate backend", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:80", 1, Marathon), be("127.0.0.1:80", 1, Kubernetes)}}}}, []string{"backends[1].address", "listed twice"}},
		{"negative weight", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:80", -2, Marathon)}}}}, []string{"backends[0].weight"}},
		{"bad platform", State{Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:80", 1, "nomad")}}}}, []string{"backends[0].platform"}},
		{"several problems", State{Routes: []Route{{Name: "", Backends: []Backend{be("1.1.1.1:80", -1, "")}}}}, []string{"name", "address", "weight", "platform"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wanterr.Check(t, Validate(tt.state, nets), tt.want...)
		})
	}
}

func TestDecodeState(t *testing.T) {
	s, err := DecodeState([]byte(`{"version":2,"routes":[{"name":"a","host":"","pathPrefix":"/","owner":"sync","backends":null}]}`), nets)
	if err != nil || s.Version != 2 || len(s.Routes) != 1 || s.Routes[0].Owner != "sync" {
		t.Fatalf("DecodeState = %+v, %v", s, err)
	}
	if _, err := DecodeState([]byte(`{"version":2,"routez":[]}`), nets); err == nil || !strings.Contains(err.Error(), "routez") {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := DecodeState([]byte(`{"routes":[{"name":"a","backends":[{"address":"8.8.8.8:53","weight":1,"platform":"marathon"}]}]}`), nets); err == nil {
		t.Fatal("foreign address accepted")
	}
	loop := []byte(`{"routes":[{"name":"a","backends":[{"address":"127.0.0.1:53","weight":1,"platform":"marathon"}]}]}`)
	if _, err := DecodeState(loop, []netip.Prefix{podNet}); err == nil || !strings.Contains(err.Error(), "none of the backend CIDRs") {
		t.Fatalf("loopback accepted without a CIDR covering it: %v", err)
	}
	if _, err := DecodeState(loop, nets); err != nil {
		t.Fatalf("loopback refused with 127.0.0.0/8 allowed: %v", err)
	}
	if _, err := DecodeState([]byte(`{"version":1,"routes":[]} {"version":2}`), nets); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestMatch(t *testing.T) {
	s := State{Routes: []Route{
		{Name: "any-root", Host: "", PathPrefix: "/"},
		{Name: "any-api", Host: "", PathPrefix: "/api"},
		{Name: "web-root", Host: "web.test", PathPrefix: ""},
		{Name: "web-api", Host: "web.test", PathPrefix: "/api/"},
		{Name: "web-api-v2", Host: "web.test", PathPrefix: "/api/v2"},
		{Name: "shop-cart", Host: "shop.test", PathPrefix: "/cart"},
	}}
	tests := []struct{ host, path, want string }{
		{"web.test", "/", "web-root"},
		{"WEB.test:8000", "/x", "web-root"},
		{"web.test", "/api", "web-api"},
		{"web.test", "/api/v1", "web-api"},
		{"web.test", "/api/v2", "web-api-v2"},
		{"web.test", "/api/v2/x", "web-api-v2"},
		{"web.test", "/api/v20", "web-api"},
		{"web.test", "/apix", "web-root"},
		{"other", "/api/x", "any-api"},
		{"other", "/apix", "any-root"},
		{"shop.test", "/cart/1", "shop-cart"},
		{"shop.test", "/", "any-root"}, // no shop route matches: fall back to any-host routes
	}
	for _, tt := range tests {
		r, ok := s.Match(tt.host, tt.path)
		if !ok || r.Name != tt.want {
			t.Errorf("Match(%q, %q) = %q, %v; want %q", tt.host, tt.path, r.Name, ok, tt.want)
		}
	}
	if _, ok := (State{Routes: []Route{{Name: "x", Host: "a"}}}).Match("b", "/"); ok {
		t.Error("matched a route of another host")
	}
}

func TestStateCopies(t *testing.T) {
	s := State{Version: 1, Routes: []Route{{Name: "a", Backends: []Backend{be("127.0.0.1:1", 1, Marathon)}}}}
	c := s.WithRoute(Route{Name: "b"})
	c.Routes[0].Backends[0].Weight = 9
	if s.Routes[0].Backends[0].Weight != 1 || len(s.Routes) != 1 || len(c.Routes) != 2 {
		t.Fatal("WithRoute shares memory with the original")
	}
	c = s.WithRoute(Route{Name: "a"})
	if len(c.Routes) != 1 || len(c.Routes[0].Backends) != 0 {
		t.Fatalf("WithRoute did not replace: %+v", c)
	}
	if d := s.WithoutRoute("a"); len(d.Routes) != 0 || len(s.Routes) != 1 {
		t.Fatal("WithoutRoute")
	}
}

func TestSplitWeights(t *testing.T) {
	m := []Backend{{Address: "127.0.1.1:1"}, {Address: "127.0.1.2:1"}, {Address: "127.0.1.3:1"}}
	k := []Backend{{Address: "10.244.0.2:1"}, {Address: "10.244.0.3:1"}}
	tests := []struct {
		name         string
		m, k         []Backend
		pct          int
		wantM, wantK int
		wantErr      string
	}{
		{"all marathon", m, k, 0, 1, 0, ""},
		{"all kubernetes", m, k, 100, 0, 1, ""},
		{"5 percent", m, k, 5, 38, 3, ""},
		{"25 percent", m, k, 25, 2, 1, ""},
		{"50 percent", m, k, 50, 2, 3, ""},
		{"no kube backends at 0", m, nil, 0, 1, 0, ""},
		{"no marathon backends at 100", nil, k, 100, 0, 1, ""},
		{"no kube backends", m, nil, 5, 0, 0, "kubernetes should receive 5%"},
		{"no marathon backends", nil, k, 50, 0, 0, "marathon should receive 50%"},
		{"out of range", m, k, 101, 0, 0, "between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitWeights(tt.m, tt.k, tt.pct)
			if wanterr.Check(t, err, tt.wantErr) {
				return
			}
			for _, b := range got {
				want := tt.wantM
				if b.Platform == Kubernetes {
					want = tt.wantK
				}
				if b.Weight != want {
					t.Errorf("%s (%s) weight %d, want %d", b.Address, b.Platform, b.Weight, want)
				}
			}
		})
	}
}

// TestSplitWeightsExact: for any pool sizes and percentage, each platform's
// total weight is exactly its percentage of the pool's total, and backends of
// one platform share it evenly.
func TestSplitWeightsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nm := rapid.IntRange(1, 60).Draw(t, "marathon")
		nk := rapid.IntRange(1, 60).Draw(t, "kubernetes")
		pct := rapid.IntRange(0, 100).Draw(t, "pct")
		var m, k []Backend
		for i := 0; i < nm; i++ {
			m = append(m, Backend{Address: "127.0.1.1:" + strconv.Itoa(1000+i)})
		}
		for i := 0; i < nk; i++ {
			k = append(k, Backend{Address: "10.244.0.1:" + strconv.Itoa(1000+i)})
		}
		got, err := SplitWeights(m, k, pct)
		if err != nil {
			t.Fatal(err)
		}
		var tm, tk int
		for _, b := range got {
			if b.Weight < 0 {
				t.Fatalf("negative weight")
			}
			if b.Platform == Marathon {
				tm += b.Weight
			} else {
				tk += b.Weight
			}
		}
		// tk / (tm+tk) == pct/100  <=>  100*tk == pct*(tm+tk)
		if 100*tk != pct*(tm+tk) {
			t.Fatalf("nm=%d nk=%d pct=%d: marathon total %d, kubernetes total %d", nm, nk, pct, tm, tk)
		}
		if sh := Percents(got); pct > 0 && (sh[Kubernetes] < float64(pct)-1e-9 || sh[Kubernetes] > float64(pct)+1e-9) {
			t.Fatalf("Shares = %v, want kubernetes %d%%", sh, pct)
		}
	})
}

func TestNormPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/web", "/web"},
		{"/web/", "/web"},
		{"/a/b/", "/a/b"},
	} {
		if got := NormPrefix(tc.in); got != tc.want {
			t.Errorf("NormPrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
