package labconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func TestDefaultIsValidAndRoundTrips(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(Default())): %v\n%s", err, b)
	}
	b2, _ := back.Marshal()
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the config:\n%s\n---\n%s", b, b2)
	}
	if len(back.Nodes) != 3 || back.Nodes[2].Address != "127.0.1.3" || back.Kubernetes.Images["switchyard/demo-app"].Command[1] != "demo-app" {
		t.Errorf("round trip lost data: %+v", back)
	}
}

const minimal = `
id: lab-1
nodes:
  - name: n1
    address: 127.0.1.1
    resources: {cpus: 2, mem: 1024}
`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{name: "minimal keeps defaults for the rest", in: minimal, check: func(t *testing.T, c Config) {
			if c.ID != "lab-1" || len(c.Nodes) != 1 || c.Marathon.Listen != "127.0.0.1:8080" || c.Kubernetes.APIServerPort != 6443 || !c.Nginx.Enabled {
				t.Errorf("got %+v", c)
			}
			if c.Nodes[0].KubernetesShare != nil {
				t.Errorf("a node without kubernetesShare must not join Kubernetes")
			}
			if len(c.Kubernetes.Images) != 0 {
				t.Errorf("images not given must stay empty, got %v", c.Kubernetes.Images)
			}
		}},
		{name: "json works too", in: `{"id":"j","nodes":[{"name":"a","address":"127.0.2.1","resources":{"cpus":1,"mem":1}}],"kubernetes":{"enabled":false}}`, check: func(t *testing.T, c Config) {
			if c.ID != "j" || c.Kubernetes.Enabled {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "zero kubernetes share is allowed", in: minimal + "    kubernetesShare: {cpus: 0, mem: 0}\n", check: func(t *testing.T, c Config) {
			if s := c.Nodes[0].KubernetesShare; s == nil || s.CPUs != 0 {
				t.Errorf("share %+v", s)
			}
		}},
		{name: "unknown key", in: minimal + "colour: blue\n", wantErr: []string{`unknown field "colour"`}},
		{name: "unknown nested key", in: strings.Replace(minimal, "resources:", "cpu: 1\n    resources:", 1), wantErr: []string{`unknown field "cpu"`}},
		{name: "wrong type", in: strings.Replace(minimal, "cpus: 2", "cpus: two", 1), wantErr: []string{"cpus"}},
		{name: "not yaml", in: "id: [unclosed", wantErr: []string{"not valid YAML"}},
		{name: "empty id and no nodes", in: "id: ''\nnodes: []\n", wantErr: []string{"id: must not be empty", "nodes: at least one node is required"}},
		{name: "non-loopback address", in: strings.Replace(minimal, "127.0.1.1", "10.1.2.3", 1), wantErr: []string{`nodes[0].address: "10.1.2.3" must be an IPv4 loopback address (127.0.0.0/8)`}},
		{name: "not an address", in: strings.Replace(minimal, "127.0.1.1", "node1.local", 1), wantErr: []string{`nodes[0].address: "node1.local" is not an IP address`}},
		{name: "ipv6 loopback", in: strings.Replace(minimal, "127.0.1.1", "'::1'", 1), wantErr: []string{"must be an IPv4 loopback address"}},
		{name: "duplicate node", in: minimal + "  - name: n1\n    address: 127.0.1.1\n    resources: {cpus: 1, mem: 1}\n",
			wantErr: []string{`nodes[1].name: "n1" is used twice`, `nodes[1].address: "127.0.1.1" is used twice`}},
		{name: "no resources", in: strings.Replace(minimal, "{cpus: 2, mem: 1024}", "{cpus: 0, mem: 1024}", 1), wantErr: []string{"nodes[0].resources: cpus and mem must be > 0"}},
		{name: "bad port range", in: minimal + "    ports: [{begin: 32000, end: 31000}, {begin: 0, end: 10}]\n",
			wantErr: []string{"nodes[0].ports[0]: 32000-31000 is not a valid port range", "nodes[0].ports[1]: 0-10"}},
		{name: "share above total", in: minimal + "    kubernetesShare: {cpus: 3, mem: 10}\n", wantErr: []string{"nodes[0].kubernetesShare: must be between 0 and the node's resources"}},
		{name: "bad cidr", in: minimal + "kubernetes: {enabled: true, podCIDR: 10.244.0.0}\n", wantErr: []string{"kubernetes.podCIDR"}},
		{name: "wrapper mode", in: minimal + "kubernetes: {enabled: true, nodeAgents: wrapper}\n", check: func(t *testing.T, c Config) {
			if !c.WrapperMode() {
				t.Errorf("nodeAgents %q is not wrapper mode", c.Kubernetes.NodeAgents)
			}
		}},
		{name: "direct mode is the default", in: minimal + "kubernetes: {enabled: true}\n", check: func(t *testing.T, c Config) {
			if c.WrapperMode() {
				t.Error("wrapper mode without nodeAgents: wrapper")
			}
		}},
		{name: "unknown node agents mode", in: minimal + "kubernetes: {enabled: true, nodeAgents: kubelet}\n", wantErr: []string{`kubernetes.nodeAgents: "kubelet": use direct`}},
		{name: "bad cidr ignored when kubernetes is off", in: minimal + "kubernetes: {enabled: false, podCIDR: nonsense}\n"},
		{name: "two components on one address", in: minimal + "marathon: {listen: '127.0.0.1:9000'}\nnginx: {enabled: true, listen: 'localhost:9000', admin: '127.0.0.1:9001'}\n",
			wantErr: []string{"nginx.listen: localhost:9000 is already used by marathon.listen; give each component its own port"}},
		{name: "kubernetes port clashes with marathon", in: minimal + "marathon: {listen: '127.0.0.1:6443'}\n",
			wantErr: []string{"kubernetes.apiServerPort: 127.0.0.1:6443 is already used by marathon.listen"}},
		{name: "kubernetes port out of range", in: minimal + "kubernetes: {enabled: true, etcdPeerPort: 70000}\n",
			wantErr: []string{"kubernetes.etcdPeerPort: 70000 is not a valid port"}},
		{name: "node agent ports run out", in: minimal + "kubernetes: {enabled: true, nodeAgentBasePort: 65535}\n",
			wantErr: []string{"kubernetes.nodeAgentBasePort: 65535 leaves no valid port for each of the 1 nodes"}},
		{name: "disabled parts may share ports", in: minimal + "marathon: {listen: '127.0.0.1:6443'}\nkubernetes: {enabled: false}\nnginx: {enabled: false, listen: '127.0.0.1:6443'}\n"},
		{name: "bad listen", in: minimal + "marathon: {listen: '127.0.0.1'}\nnginx: {listen: '127.0.0.1:99999'}\n",
			wantErr: []string{`marathon.listen: "127.0.0.1" must be host:port`, `nginx.listen: "127.0.0.1:99999" has no valid port`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if wanterr.Check(t, err, tt.wantErr...) {
				return
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestLoadResolvesDirAndNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(p, []byte(minimal+"dir: state\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != filepath.Join(dir, "state") || c.Path("logs", "x.log") != filepath.Join(dir, "state", "logs", "x.log") {
		t.Errorf("dir %q", c.Dir)
	}
	if err := os.WriteFile(p, []byte(minimal+"dir: /abs/where\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(p); err != nil || c.Dir != "/abs/where" {
		t.Errorf("absolute dir: %q, %v", c.Dir, err)
	}
	if err := os.WriteFile(p, []byte("id: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "lab config "+p+": nodes: at least one node") {
		t.Errorf("invalid file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read lab config") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNodeByNameAndEndpointURL(t *testing.T) {
	c := Default()
	if n, ok := c.NodeByName("node-2"); !ok || n.Address != "127.0.1.2" {
		t.Errorf("NodeByName(node-2) = %+v, %v", n, ok)
	}
	if _, ok := c.NodeByName("nope"); ok {
		t.Error("found a node that does not exist")
	}
	if u := c.Marathon.URL(); u != "http://127.0.0.1:8080" {
		t.Errorf("URL %q", u)
	}
}

func TestMarathonAuth(t *testing.T) {
	c := Default()
	c.Marathon.Auth = MarathonAuthToken
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "marathon:\n  auth: token\n  listen: 127.0.0.1:8080\n") {
		t.Fatalf("marshalled:\n%s", b)
	}
	got, err := Parse(b)
	if err != nil || !got.MarathonAuthEnabled() || got.Marathon.Listen != "127.0.0.1:8080" {
		t.Fatalf("Parse: %+v, %v", got.Marathon, err)
	}
	if tok, err := Default().MarathonToken(); tok != "" || err != nil {
		t.Errorf("MarathonToken without auth = %q, %v", tok, err)
	}
	c.Marathon.Auth = "password"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `marathon.auth: "password"`) {
		t.Errorf("Validate = %v", err)
	}
	// Existing configs are unchanged: no auth key without auth.
	if b, _ := Default().Marshal(); strings.Contains(string(b), "auth") {
		t.Errorf("default config mentions auth:\n%s", b)
	}
}

func TestNewLabRequiresAMarathonToken(t *testing.T) {
	c := NewLab()
	if !c.MarathonAuthEnabled() {
		t.Fatalf("NewLab().Marathon.Auth = %q, want %q", c.Marathon.Auth, MarathonAuthToken)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil || !got.MarathonAuthEnabled() {
		t.Fatalf("Parse(Marshal(NewLab())): %+v, %v", got.Marathon, err)
	}
	// A lab.yaml written before (no auth key) keeps an open Marathon.
	ob, err := Default().Marshal()
	if err != nil || strings.Contains(string(ob), "auth:") {
		t.Fatalf("Default().Marshal() = %v:\n%s", err, ob)
	}
	old, err := Parse(ob)
	if err != nil || old.MarathonAuthEnabled() {
		t.Fatalf("Parse(config without marathon.auth): %+v, %v", old.Marathon, err)
	}
}
