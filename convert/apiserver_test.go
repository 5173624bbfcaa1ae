package convert_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// apiServer is the control plane TestMain started, or why it did not: skip
// (-short, fuzzing), a missing prerequisite (skipped, or failed under CI)
// or another error (failed).
var apiServer struct {
	cfg     labconfig.Config
	skip    string
	missing error
	err     error
	procs   []*proc.Process
}

func TestMain(m *testing.M) {
	code := func() int {
		if testenv.Short() {
			apiServer.skip = "-short: no control plane"
			return m.Run()
		}
		if fuzzing() {
			// The fuzzing coordinator kills its workers: a control plane
			// started by one would be left running.
			apiServer.skip = "fuzzing: no control plane"
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "convert-apiserver-")
		if err != nil {
			apiServer.err = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		stop, err := startControlPlane(dir)
		defer stop()
		if err != nil {
			var miss missingPrereq
			if errors.As(err, &miss) {
				apiServer.missing = err
			} else {
				apiServer.err = err
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

type missingPrereq struct{ error }

// fuzzing reports whether this process runs `go test -fuzz` (coordinator or worker).
func fuzzing() bool {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// startControlPlane starts etcd and kube-apiserver (lab/kube's specs) on
// free loopback ports and waits until they are ready.
func startControlPlane(dir string) (func(), error) {
	stop := func() {
		for i := len(apiServer.procs) - 1; i >= 0; i-- {
			apiServer.procs[i].Stop(10 * time.Second)
		}
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := kube.Binary(kube.PinnedVersion, b); err != nil {
			return stop, missingPrereq{fmt.Errorf("%w (run scripts/build-kube.sh)", err)}
		}
	}
	ports, err := testenv.FreePorts(5)
	if err != nil {
		return stop, err
	}
	cfg := labconfig.Default()
	cfg.ID = "convert-test-" + strconv.Itoa(os.Getpid())
	cfg.Dir = dir
	cfg.Kubernetes.EtcdClientPort, cfg.Kubernetes.EtcdPeerPort, cfg.Kubernetes.APIServerPort = ports[0], ports[1], ports[2]
	cfg.Kubernetes.ControllerManagerPort, cfg.Kubernetes.SchedulerPort = ports[3], ports[4]
	if err := cfg.Validate(); err != nil {
		return stop, err
	}
	apiServer.cfg = cfg
	specs, err := kube.Components(cfg, "")
	if err != nil {
		return stop, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, s := range specs {
		if s.Name != kube.EtcdName && s.Name != kube.APIServerName {
			continue // dry-run needs only the API server
		}
		if err := startOne(ctx, cfg, s); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

func startOne(ctx context.Context, cfg labconfig.Config, s component.Spec) error {
	if s.Prepare != nil {
		if err := s.Prepare(ctx); err != nil {
			return fmt.Errorf("%s: prepare: %w", s.Name, err)
		}
	}
	env := append(os.Environ(), s.Env...)
	env = append(env, labconfig.MarkerEnv+"="+cfg.ID)
	p, err := proc.Start(proc.Spec{Argv: s.Argv, Env: env, Dir: cfg.Dir, LogPath: cfg.Path("logs", s.Name+".log")})
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	apiServer.procs = append(apiServer.procs, p)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.Ready(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			b, _ := os.ReadFile(cfg.Path("logs", s.Name+".log"))
			return fmt.Errorf("%s exited before ready: %v\n%s", s.Name, err, tailOf(b))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", s.Name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tailOf(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// TestCorpusServerSideDryRun converts the whole corpus and sends every
// object to a real kube-apiserver with dryRun=All (namespaces are created
// for real first): the server must accept them all. It prints the
// fidelity totals.
func TestCorpusServerSideDryRun(t *testing.T) {
	if apiServer.err != nil {
		t.Fatalf("control plane: %v", apiServer.err)
	}
	if apiServer.skip != "" {
		t.Skip(apiServer.skip)
	}
	testenv.Prerequisite(t, apiServer.missing)
	rc, err := kube.RESTConfig(apiServer.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "converted"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	var total convert.Totals
	objects := 0
	for _, f := range corpus(t) {
		res := convertFile(t, f, convert.Options{Namespace: ns})
		total.Add(res.Report.Totals)
		for _, o := range res.Objects() {
			var err error
			switch x := o.(type) {
			case *appsv1.Deployment:
				_, err = cs.AppsV1().Deployments(ns).Create(ctx, x, dry)
			case *appsv1.StatefulSet:
				_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, x, dry)
			case *corev1.Service:
				_, err = cs.CoreV1().Services(ns).Create(ctx, x, dry)
			case *corev1.PersistentVolumeClaim:
				_, err = cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, x, dry)
			case *policyv1.PodDisruptionBudget:
				_, err = cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, x, dry)
			default:
				t.Fatalf("%s: unexpected object type %T", filepath.Base(f), o)
			}
			if err != nil {
				t.Errorf("%s: %s %s refused: %v", filepath.Base(f), o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
			}
			objects++
		}
	}
	fmt.Printf("server-side dry run: %d objects accepted from %d corpus files\n", objects, len(corpus(t)))
	fmt.Printf("fidelity totals: %d fields: %d converted, %d approximated, %d unsupported, %d ignored\n",
		total.Total, total.Converted, total.Approximated, total.Unsupported, total.Ignored)
}
