package labdemo

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/lab/proc"
)

// takeoverEnv carries the helper's plan (JSON) into the helper process.
const takeoverEnv = "LABDEMO_TAKEOVER_PLAN"

// takeoverPlan is what the other user tries.
type takeoverPlan struct {
	MarathonURL, LBAdminURL, APIServerURL, EtcdAddr string
	// CAPEM is the lab CA's certificate (public; the helper trusts it).
	CAPEM  string
	LabDir string
	// Secrets must not be readable.
	Secrets []string
}

// takeoverResult is what the other user achieved ("" when refused).
type takeoverResult struct {
	UID           int
	MarathonPOST  string
	RoutePUT      string
	SecretsGET    string
	EtcdGET       string
	ReadSecrets   []string
	WritableFiles []string
	Errors        []string
}

// TestTakeoverHelper runs as the other user (uid 65534).
func TestTakeoverHelper(t *testing.T) {
	raw := os.Getenv(takeoverEnv)
	if raw == "" {
		t.Skip("helper of TestAnotherLocalUserCannotTakeOver")
	}
	var p takeoverPlan
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	r := takeoverResult{UID: os.Getuid()}
	hc := &http.Client{Timeout: 5 * time.Second}
	do := func(method, url, body string) string {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			return ""
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
			return ""
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return resp.Status
		}
		r.Errors = append(r.Errors, method+" "+url+": "+resp.Status)
		return ""
	}
	// Start a process through Marathon.
	r.MarathonPOST = do("POST", p.MarathonURL+"/v2/apps", `{"id":"/takeover","cmd":"id > /tmp/takeover","instances":1,"cpus":0.1,"mem":16}`)
	// Change a route at the load balancer.
	r.RoutePUT = do("PUT", p.LBAdminURL+"/routes/takeover", `{"version":0,"pathPrefix":"/","backends":[{"address":"127.0.0.1:1","weight":1,"platform":"marathon"}]}`)
	// Read Secrets through the API server, trusting its CA, no client certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(p.CAPEM))
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	hc.Transport = &http.Transport{TLSClientConfig: tc}
	r.SecretsGET = do("GET", p.APIServerURL+"/api/v1/secrets", "")
	// Read etcd directly, over TLS and in plain HTTP.
	r.EtcdGET = do("POST", "https://"+p.EtcdAddr+"/v3/kv/range", `{"key":"L3JlZ2lzdHJ5","range_end":"AA=="}`)
	if r.EtcdGET == "" {
		hc.Transport = nil
		r.EtcdGET = do("POST", "http://"+p.EtcdAddr+"/v3/kv/range", `{"key":"L3JlZ2lzdHJ5","range_end":"AA=="}`)
	}
	// Read the credentials, change any file of the lab.
	for _, f := range p.Secrets {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			r.ReadSecrets = append(r.ReadSecrets, f)
		}
	}
	_ = filepath.WalkDir(p.LabDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a directory it cannot enter
		}
		if d.Type().IsRegular() {
			if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				f.Close()
				r.WritableFiles = append(r.WritableFiles, path)
			}
		} else if d.IsDir() {
			if f, err := os.CreateTemp(path, "takeover-"); err == nil {
				f.Close()
				os.Remove(f.Name())
				r.WritableFiles = append(r.WritableFiles, path+"/ (directory)")
			}
		}
		return nil
	})
	out, _ := json.Marshal(r)
	fmt.Printf("takeover-result %s\n", out)
}

// TestAnotherLocalUserCannotTakeOver: a second, unprivileged local user
// (uid 65534) on the machine of a running lab can neither start a process
// (Marathon needs its token), change a route (the load balancer's admin
// API needs its token), nor read a Secret (the API server needs a client
// certificate, etcd serves TLS to the lab CA's clients only); the lab's
// credentials are not readable and no file of the lab is writable, even
// with the lab directory open to everyone (a lab in a 0755 home directory).
func TestAnotherLocalUserCannotTakeOver(t *testing.T) {
	l := labtest.Need(t, theLab)
	if os.Getuid() != 0 {
		testenv.Missing(t, "needs root to run a process as another user")
	}
	cfg := l.Config
	// The lab directory as a default umask would make it: modes of the
	// files themselves are what protects them.
	for d := l.Dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pki := filepath.Join(labkube.Dir(cfg), "pki")
	keys, _ := filepath.Glob(filepath.Join(pki, "*.key"))
	kubeconfigs, _ := filepath.Glob(filepath.Join(labkube.Dir(cfg), "*.kubeconfig"))
	etcdFiles := []string{}
	_ = filepath.WalkDir(filepath.Join(labkube.Dir(cfg), "etcd"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			etcdFiles = append(etcdFiles, p)
		}
		return nil
	})
	secrets := append(append(append([]string{cfg.MarathonTokenPath(), l.LBTokenFile, l.Kubeconfig, l.SwitchyardConfig}, keys...), kubeconfigs...), etcdFiles...)
	for _, s := range secrets[:4] {
		if _, err := os.Stat(s); err != nil {
			t.Fatalf("secret file the test expects: %v", err)
		}
	}
	if len(keys) < 5 || len(etcdFiles) == 0 {
		t.Fatalf("found %d keys in %s and %d etcd files: the lab's layout changed, update this test", len(keys), pki, len(etcdFiles))
	}
	plan := takeoverPlan{
		MarathonURL: l.MarathonURL, LBAdminURL: l.LBAdminURL, APIServerURL: labkube.APIServerURL(cfg),
		EtcdAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Kubernetes.EtcdClientPort)),
		LabDir:   l.Dir, Secrets: secrets,
	}
	ca, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	plan.CAPEM = string(ca)
	planJSON, _ := json.Marshal(plan)

	// The test binary where the other user can run it.
	cmd := testenv.TestAsNobody(t, "^TestTakeoverHelper$")
	cmd.Args = append(cmd.Args, "-test.v")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", takeoverEnv + "=" + string(planJSON)}
	out, err := cmd.CombinedOutput()
	var r takeoverResult
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "takeover-result "); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err != nil || r.UID != 65534 {
		t.Fatalf("helper as uid 65534: %v (uid %d)\n%s", err, r.UID, out)
	}
	t.Logf("what uid 65534 was told: %s", strings.Join(r.Errors, "; "))
	for what, got := range map[string]string{
		"started a Marathon app (POST /v2/apps)":        r.MarathonPOST,
		"changed a load-balancer route (PUT /routes/…)": r.RoutePUT,
		"listed Secrets at the API server":              r.SecretsGET,
		"read etcd":                                     r.EtcdGET,
	} {
		if got != "" {
			t.Errorf("uid 65534 %s: %s", what, got)
		}
	}
	if len(r.ReadSecrets) > 0 {
		t.Errorf("uid 65534 read the lab's credentials:\n  %s", strings.Join(r.ReadSecrets, "\n  "))
	}
	if len(r.WritableFiles) > 0 {
		t.Errorf("uid 65534 can write into the lab:\n  %s", strings.Join(r.WritableFiles, "\n  "))
	}
	// The lab's workloads (the demo's Marathon tasks and pod containers)
	// do not run as root.
	workloads := map[string]int{}
	for _, id := range proc.FindByEnv(lab.Marker(cfg)) {
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", id.PID))
		if err != nil {
			continue
		}
		kind := ""
		switch {
		case strings.HasPrefix(cwd, cfg.Path("marathon", "sandboxes")+"/"):
			kind = "Marathon task"
		case strings.HasPrefix(cwd, cfg.Path("pods")+"/"):
			kind = "pod container"
		default:
			continue
		}
		workloads[kind]++
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", id.PID))
		if strings.Contains(string(status), "\nUid:\t0\t") {
			t.Errorf("%s %s runs as root", kind, proc.Describe(id.PID))
		}
	}
	if workloads["Marathon task"] == 0 || workloads["pod container"] == 0 {
		t.Errorf("found workloads %v; want the demo's Marathon tasks and pod containers", workloads)
	}
	// Nothing was started on its behalf.
	if b, _ := os.ReadFile("/tmp/takeover"); len(b) > 0 || bytes.Contains(b, []byte("uid")) {
		t.Errorf("/tmp/takeover exists: %s", b)
	}
	if _, err := os.Stat("/tmp/takeover"); !errors.Is(err, fs.ErrNotExist) {
		os.Remove("/tmp/takeover")
	}
}
