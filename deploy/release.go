package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/internal/kubeclient"
)

// maxHistory is how many revisions of a release Helm keeps.
const maxHistory = 10

// Release is one Helm release: its name and namespace, the chart and the
// values it is installed with.
type Release struct {
	Name, Namespace string
	Chart           *chart.Chart
	Values          map[string]any
}

// ID is "namespace/name".
func (r Release) ID() string { return r.Namespace + "/" + r.Name }

// chartName names the release's chart in messages.
func (r Release) chartName() string {
	if r.Chart == nil || r.Chart.Metadata == nil {
		return "(unnamed)"
	}
	return r.Chart.Name()
}

// Render renders the release's chart client-side, as the release would be
// installed (like helm template): kv is the API server's version (nil: the
// Helm SDK's default), upgrade says whether the release exists.
func Render(ctx context.Context, r Release, kv *chartutil.KubeVersion, upgrade bool) (string, error) {
	if r.Chart == nil {
		return "", fmt.Errorf("release %s: no chart", r.ID())
	}
	in := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace, in.IsUpgrade, in.KubeVersion = r.Name, r.Namespace, upgrade, kv
	rel, err := in.RunWithContext(ctx, r.Chart, r.Values)
	if err != nil {
		return "", fmt.Errorf("chart %s does not render: %w", r.chartName(), err)
	}
	return rel.Manifest, nil
}

// Releases is the one Helm flow of `deploy` and `migrate`: it installs or
// upgrades a release, waits until its workloads are ready (the one ready
// rule, kubeclient.WaitReady), rolls it back and uninstalls it, with the
// Helm SDK (release records in Secrets) on the cluster of Kube. Install
// and Uninstall are idempotent, also after a crash in the middle of one:
// a run can always be repeated.
type Releases struct {
	// Kube is the cluster.
	Kube *kubeclient.Factory
	// ActionConfig returns the Helm action configuration of a namespace
	// (nil: the Helm SDK's on Kube, release records in Secrets; tests give
	// one with in-memory records). It is called once per namespace.
	ActionConfig func(ns string) (*action.Configuration, error)
	// Poll is the period of readiness and removal checks (default 300 ms).
	Poll time.Duration

	mu   sync.Mutex
	cfgs map[string]*action.Configuration
}

// Config returns the Helm action configuration of namespace ns (built once:
// its discovery is costly).
func (h *Releases) Config(ns string) (*action.Configuration, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cfgs[ns]; c != nil {
		return c, nil
	}
	var c *action.Configuration
	if h.ActionConfig != nil {
		var err error
		if c, err = h.ActionConfig(ns); err != nil {
			return nil, err
		}
	} else {
		if h.Kube == nil {
			return nil, errors.New("helm: no Kubernetes cluster")
		}
		c = &action.Configuration{}
		if err := c.Init(h.Kube.Getter(ns), ns, "secret", func(string, ...any) {}); err != nil {
			return nil, fmt.Errorf("helm: %w", err)
		}
	}
	if h.cfgs == nil {
		h.cfgs = map[string]*action.Configuration{}
	}
	h.cfgs[ns] = c
	return c, nil
}

// History returns the release's latest revision (nil: none) and whether a
// revision of it was ever deployed.
func (h *Releases) History(r Release) (last *release.Release, deployed bool, err error) {
	cfg, err := h.Config(r.Namespace)
	if err != nil {
		return nil, false, err
	}
	hist, err := cfg.Releases.History(r.Name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, false, fmt.Errorf("read the history of release %s: %w", r.ID(), err)
	}
	for _, rel := range hist {
		if last == nil || rel.Version > last.Version {
			last = rel
		}
		if rel.Info != nil && (rel.Info.Status == release.StatusDeployed || rel.Info.Status == release.StatusSuperseded) {
			deployed = true
		}
	}
	return last, deployed, nil
}

// Install installs the release, or upgrades it when a revision of it was
// deployed; it does not wait (WaitReady does). A revision left pending (a
// run that crashed or was killed mid-operation) is marked failed first; a
// release that never deployed is uninstalled and installed afresh. Callers
// that must not take over another client's operation in progress check
// History first (deploy does). The namespace is created when it does not
// exist (kubeclient.MustCreateNamespace).
func (h *Releases) Install(ctx context.Context, r Release) (*release.Release, error) {
	cfg, err := h.Config(r.Namespace)
	if err != nil {
		return nil, err
	}
	last, deployed, err := h.History(r)
	if err != nil {
		return nil, err
	}
	if last != nil && last.Info != nil && last.Info.Status.IsPending() {
		last.Info.Status = release.StatusFailed
		last.Info.Description = "interrupted (switchyard resumed after a crash)"
		if err := cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("release %s: mark the interrupted revision %d failed: %w", r.ID(), last.Version, err)
		}
	}
	if last != nil && !deployed {
		if err := h.uninstall(cfg, r); err != nil {
			return nil, err
		}
	}
	if deployed {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.MaxHistory = r.Namespace, maxHistory
		rel, err := up.RunWithContext(ctx, r.Name, r.Chart, r.Values)
		if err != nil {
			return nil, fmt.Errorf("helm upgrade %s: %w", r.ID(), err)
		}
		return rel, nil
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = r.Name, r.Namespace
	in.CreateNamespace = true
	if h.Kube != nil {
		if kc, err := h.Kube.Clients(); err == nil {
			in.CreateNamespace = kubeclient.MustCreateNamespace(ctx, kc.Clientset, r.Namespace)
		}
	}
	rel, err := in.RunWithContext(ctx, r.Chart, r.Values)
	if err != nil {
		return nil, fmt.Errorf("helm install %s: %w", r.ID(), err)
	}
	return rel, nil
}

// Objects returns the objects of the release's latest revision (nil: no
// release), in the release's namespace where they name none.
func (h *Releases) Objects(r Release) ([]*unstructured.Unstructured, error) {
	last, _, err := h.History(r)
	if err != nil || last == nil {
		return nil, err
	}
	objs, err := kubeclient.DecodeObjects([]byte(last.Manifest))
	if err != nil {
		return nil, fmt.Errorf("release %s: its manifest: %w", r.ID(), err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(r.Namespace)
		}
	}
	return objs, nil
}

// WaitReady waits until every Deployment and StatefulSet of the release's
// latest revision is ready (kubeclient.WaitReady: the one ready rule);
// progress, when set, receives each workload's state as it changes.
func (h *Releases) WaitReady(ctx context.Context, r Release, progress func(kubeclient.Rollout)) error {
	objs, err := h.Objects(r)
	if err != nil {
		return err
	}
	if objs == nil {
		return fmt.Errorf("release %s is not installed", r.ID())
	}
	kc, err := h.clients()
	if err != nil {
		return err
	}
	return kubeclient.WaitReady(ctx, kc.Clientset, r.Namespace, objs, kubeclient.WaitOptions{Poll: h.poll(), Progress: progress})
}

// Rollback rolls the release back to revision version (a new revision with
// that one's chart and values); it does not wait (WaitReady does).
func (h *Releases) Rollback(ctx context.Context, r Release, version int) error {
	cfg, err := h.Config(r.Namespace)
	if err != nil {
		return err
	}
	rb := action.NewRollback(cfg)
	rb.Version, rb.MaxHistory = version, maxHistory
	if err := rb.Run(r.Name); err != nil {
		return fmt.Errorf("helm rollback %s to revision %d: %w", r.ID(), version, err)
	}
	return nil
}

// Uninstall uninstalls the release (a missing one is not an error) with
// foreground deletion, then waits until the objects of its latest revision
// are gone (a Deployment goes once its pods went).
func (h *Releases) Uninstall(ctx context.Context, r Release) error {
	objs, err := h.Objects(r)
	if err != nil {
		return err
	}
	if objs == nil {
		return nil
	}
	cfg, err := h.Config(r.Namespace)
	if err != nil {
		return err
	}
	if err := h.uninstall(cfg, r); err != nil {
		return err
	}
	kc, err := h.clients()
	if err != nil {
		return err
	}
	for _, o := range objs {
		ri, err := kc.Resource(o)
		if err != nil {
			return err
		}
		for {
			_, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s %s/%s still there after helm uninstall: %w", o.GetKind(), o.GetNamespace(), o.GetName(), ctx.Err())
			case <-time.After(h.poll()):
			}
		}
	}
	return nil
}

func (h *Releases) uninstall(cfg *action.Configuration, r Release) error {
	u := action.NewUninstall(cfg)
	u.IgnoreNotFound, u.DeletionPropagation = true, "foreground"
	if _, err := u.Run(r.Name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("helm uninstall %s: %w", r.ID(), err)
	}
	return nil
}

func (h *Releases) clients() (*kubeclient.Clients, error) {
	if h.Kube == nil {
		return nil, errors.New("helm: no Kubernetes cluster")
	}
	return h.Kube.Clients()
}

func (h *Releases) poll() time.Duration {
	if h.Poll <= 0 {
		return 300 * time.Millisecond
	}
	return h.Poll
}
