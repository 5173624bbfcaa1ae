package production

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/proc"
)

// operatorConf is an operator's own nginx.conf: their server with their own
// locations, into which they include what `switchyard lb render` wrote.
const operatorConf = `# An operator's nginx.conf (not written by Switchyard).
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
master_process on;
%[4]s
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    access_log off;
    include %[2]s/switchyard-http.conf;
    server {
        listen %[3]s;
        server_name _;
        keepalive_requests 100000;
        # The operator's own locations keep working beside Switchyard's.
        location = /operator/health { return 200 "operator ok\n"; }
        location /operator/ { return 200 "operator's own location\n"; }
        include %[2]s/switchyard-locations.conf;
    }
}
`

// nginxInstance is one plain nginx process configured from `lb render`
// output and an operator-style nginx.conf (no lab supervisor).
type nginxInstance struct {
	Name           string
	Dir, ModuleDir string
	Listen, Admin  string
	TokenFile      string
	StateDir       string
	cmd            *exec.Cmd
	done           chan struct{}
}

func (n *nginxInstance) URL() string      { return "http://" + n.Listen }
func (n *nginxInstance) AdminURL() string { return "http://" + n.Admin }

// writeConf writes the operator's nginx.conf around the rendered module.
func (n *nginxInstance) writeConf(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(n.Dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	user := "" // the test's own user runs the workers
	if os.Geteuid() == 0 {
		// As an operator does: the workers run as Debian's www-data, whose
		// only directory is the routing state's.
		u, err := proc.LookupUser("www-data")
		if err != nil {
			t.Fatal(err)
		}
		user = "user www-data;"
		if err := os.Chown(n.StateDir, int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
		if err := proc.LetThrough(u, filepath.Dir(n.Dir), n.Dir, n.StateDir); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(operatorConf, n.Dir, n.ModuleDir, n.Listen, user)
	if err := os.WriteFile(filepath.Join(n.Dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs nginx in the foreground in its own process group and waits
// until its admin /healthz answers.
func (n *nginxInstance) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command("/usr/sbin/nginx", "-p", n.Dir+"/", "-c", filepath.Join(n.Dir, "nginx.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx %s: %v", n.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(n.AdminURL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.done:
			logs, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
			t.Fatalf("nginx %s exited at start: %s\n%s", n.Name, out.String(), logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx %s: admin /healthz not ready after 20s: %v", n.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill SIGKILLs the whole process group (master and workers) and waits.
func (n *nginxInstance) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
	}
	// Workers are in the same group; make sure none is left holding the port.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if testenv.CanListen(n.Listen) && testenv.CanListen(n.Admin) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop quits nginx gracefully (SIGQUIT to the group), else kills it.
func (n *nginxInstance) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.kill()
	}
}

// namespacedKubeconfig applies examples/rbac/switchyard-migrate.yaml to ns
// (created with the admin credentials, as an admin would), requests a token
// for its ServiceAccount and writes a kubeconfig that uses only it.
func namespacedKubeconfig(t *testing.T, adminKubeconfig, ns, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := (&kubeclient.Factory{Kubeconfig: adminKubeconfig, QPS: 50, Burst: 100}).Clients()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "rbac", "switchyard-migrate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubeclient.DecodeObjects([]byte(strings.ReplaceAll(string(raw), "namespace: apps", "namespace: "+ns)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := admin.Apply(ctx, o, "e2e-admin"); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	exp := int64(3600)
	tr, err := admin.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "switchyard",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for the switchyard ServiceAccount: %v", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ca := rc.CAData
	if len(ca) == 0 && rc.CAFile != "" {
		if ca, err = os.ReadFile(rc.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["lab"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: ca}
	kc.AuthInfos["switchyard"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["switchyard"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "switchyard", Namespace: ns}
	kc.CurrentContext = "switchyard"
	path := filepath.Join(dir, "switchyard.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	// The credentials really are namespaced: listing namespaces is refused.
	limited, err := (&kubeclient.Factory{Kubeconfig: path}).Clients()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limited.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("the namespaced kubeconfig may list namespaces: the Role is not least privilege")
	}
	return path
}
