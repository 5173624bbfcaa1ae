package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// Options configures an agent run.
type Options struct {
	// ConfigPath is the lab config file; it is re-read every ConfigPoll to
	// pick up share and image changes.
	ConfigPath string
	// Config is the already loaded config (from ConfigPath).
	Config labconfig.Config
	// Node is the lab node this agent registers.
	Node string
	// REST is the client config of the node's identity (system:node:<name>).
	REST *rest.Config
	// Self is the switchyard binary.
	Self string
	// DrainOnExit stops every pod gracefully when ctx ends; otherwise the
	// pods' processes keep running for the next agent to re-adopt.
	DrainOnExit bool
	// Workers is the number of pod sync workers (default 10).
	Workers int
	// ConfigPoll is how often the config file is checked (default 2s).
	ConfigPoll time.Duration
	// VolumeResync is how often running pods' volumes are rewritten from
	// the API (default DefaultVolumeResync).
	VolumeResync time.Duration
	// Logger receives the agent's log (default: stderr text).
	Logger *slog.Logger
	// Reservation, when set, makes allocatable = capacity − reservation
	// (kubelet --system-reserved/--kube-reserved/--eviction-hard) instead of
	// the node's kubernetesShare.
	Reservation *Reservation
	// OnReady is called once the node is registered and pods are served.
	OnReady func()
	// Share, when set, is the node's allocatable instead of its
	// kubernetesShare in the lab config (set by the kubelet wrapper, which
	// computes it from its Marathon task's resources; see package wrapper).
	Share *labconfig.Resources
}

// withShare applies o.Share to the node in cfg (a copy).
func (o Options) withShare(cfg labconfig.Config) labconfig.Config {
	if o.Share == nil {
		return cfg
	}
	cfg.Nodes = append([]labconfig.Node(nil), cfg.Nodes...)
	for i := range cfg.Nodes {
		if cfg.Nodes[i].Name == o.Node {
			s := *o.Share
			cfg.Nodes[i].KubernetesShare = &s
		}
	}
	return cfg
}

// apiLookup reads ConfigMaps and Secrets straight from the API server.
type apiLookup struct{ c kubernetes.Interface }

// ConfigMap reads a ConfigMap from the API.
func (l apiLookup) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return l.c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

// Secret reads a Secret from the API.
func (l apiLookup) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return l.c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

// ServiceAccountToken requests a token of the pod's ServiceAccount bound
// to the pod (the TokenRequest API; the Node authorizer lets a node ask
// only for the pods bound to it).
func (l apiLookup) ServiceAccountToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (Token, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	tr, err := l.c.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return Token{}, fmt.Errorf("token of serviceaccount %s/%s: %w", pod.Namespace, sa, err)
	}
	return Token{Value: tr.Status.Token, Expires: tr.Status.ExpirationTimestamp.Time}, nil
}

// nodeProvider feeds node status changes (config reloads) to the node controller.
type nodeProvider struct {
	mu sync.Mutex
	cb func(*corev1.Node)
}

// Ping reports the node healthy while the agent runs.
func (p *nodeProvider) Ping(context.Context) error { return nil }

// NotifyNodeStatus registers the node controller's status callback.
func (p *nodeProvider) NotifyNodeStatus(_ context.Context, cb func(*corev1.Node)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cb = cb
}

func (p *nodeProvider) push(n *corev1.Node) {
	p.mu.Lock()
	cb := p.cb
	p.mu.Unlock()
	if cb != nil {
		go cb(n)
	}
}

// Run registers the node and serves its pods until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.ConfigPoll <= 0 {
		o.ConfigPoll = 2 * time.Second
	}
	log := o.Logger.With("node", o.Node)
	nodeObj, err := NodeObjectFor(o.Config, o.Node, o.Reservation)
	if err != nil {
		return err
	}
	rc := rest.CopyConfig(o.REST)
	rc.QPS, rc.Burst = 100, 200
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("node agent %s: kubernetes client: %w", o.Node, err)
	}

	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "switchyard-node-agent", Host: o.Node})

	runCtx, stopRuntime := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRuntime()
	rt, err := NewRuntime(runCtx, RuntimeOptions{
		Config: o.Config, Node: o.Node, Self: o.Self, Lookup: apiLookup{client}, Tokens: apiLookup{client}, Recorder: recorder, Logger: log,
		VolumeResync: o.VolumeResync,
		Finalize: func(ctx context.Context, ns, name string, uid types.UID) error {
			opts := metav1.NewDeleteOptions(0)
			opts.Preconditions = metav1.NewUIDPreconditions(string(uid))
			err := client.CoreV1().Pods(ns).Delete(ctx, name, *opts)
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
			return err
		},
	})
	if err != nil {
		return err
	}
	rt.SetConfig(o.Config, nodeObj.Status.Allocatable)
	if err := rt.Network().EnsureBridge(ctx); err != nil {
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	}

	idx, _ := NodeIndex(o.Config, o.Node)
	hostIP := o.Config.Nodes[idx].Address
	crt, key, ca, err := kube.NodeServingCert(o.Config, o.Node, hostIP)
	if err != nil {
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	}
	api := &KubeletAPI{Runtime: rt, CertFile: crt, KeyFile: key, CAFile: ca, Logger: log}
	apiAddr := net.JoinHostPort(hostIP, kubeletPort(o.Config, idx))
	apiErr := make(chan error, 1)
	// The controllers outlive ctx while the agent drains its pods (DrainOnExit),
	// so that the pods' final status still reaches the API.
	ctrlCtx, stopCtrl := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCtrl()
	apiCtx, stopAPI := context.WithCancel(ctrlCtx)
	defer stopAPI()
	go func() { apiErr <- api.Serve(apiCtx, apiAddr) }()
	fwd, err := APIForwarderFor(o.Config)
	if err != nil {
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	}
	fwd.Logger = log
	fwdErr := make(chan error, 1)
	go func() { fwdErr <- fwd.Serve(apiCtx) }()
	select {
	case err := <-apiErr:
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	case err := <-fwdErr:
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	case <-time.After(100 * time.Millisecond):
	}

	np := &nodeProvider{}
	nc, err := node.NewNodeController(np, nodeObj, client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(client.CoordinationV1().Leases(corev1.NamespaceNodeLease), node.DefaultLeaseDuration),
		node.WithNodeStatusUpdateInterval(30*time.Second))
	if err != nil {
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	}

	podFactory := informers.NewSharedInformerFactoryWithOptions(client, time.Minute,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.Node).String()
		}))
	// virtual-kubelet wants these informers for its own env resolution, which
	// the runtime replaces (SkipDownwardAPIResolution); they are never started.
	other := informers.NewSharedInformerFactory(client, time.Minute)
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient:                 client.CoreV1(),
		PodInformer:               podFactory.Core().V1().Pods(),
		EventRecorder:             recorder,
		Provider:                  rt,
		ConfigMapInformer:         other.Core().V1().ConfigMaps(),
		SecretInformer:            other.Core().V1().Secrets(),
		ServiceInformer:           other.Core().V1().Services(),
		SkipDownwardAPIResolution: true,
		// virtual-kubelet's default (10 qps overall) delays status updates
		// of a burst of pods by seconds; a kubelet reports them at once.
		SyncPodsFromKubernetesRateLimiter:    fastLimiter(),
		SyncPodStatusFromProviderRateLimiter: fastLimiter(),
		DeletePodsFromKubernetesRateLimiter:  fastLimiter(),
	})
	if err != nil {
		return fmt.Errorf("node agent %s: %w", o.Node, err)
	}

	ncErr := make(chan error, 1)
	go func() { ncErr <- nc.Run(ctrlCtx) }()
	select {
	case <-nc.Ready():
	case err := <-ncErr:
		return fmt.Errorf("node agent %s: register node: %w", o.Node, err)
	case <-ctx.Done():
		return nil
	}
	log.Info("node registered", "capacity", FormatResources(nodeObj.Status.Capacity), "allocatable", FormatResources(nodeObj.Status.Allocatable))

	podFactory.Start(ctrlCtx.Done())
	for typ, ok := range podFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("node agent %s: %v informer did not sync", o.Node, typ)
		}
	}
	lister := podFactory.Core().V1().Pods().Lister()
	if err := rt.Recover(ctx, func(ns, name string) (*corev1.Pod, error) {
		p, err := lister.Pods(ns).Get(name)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return p, err
	}); err != nil {
		return err
	}

	pcErr := make(chan error, 1)
	go func() { pcErr <- pc.Run(ctrlCtx, o.Workers) }()
	select {
	case <-pc.Ready():
	case err := <-pcErr:
		return fmt.Errorf("node agent %s: pod controller: %w", o.Node, err)
	case <-ctx.Done():
	}
	if o.OnReady != nil && ctx.Err() == nil {
		o.OnReady()
	}
	go watchConfig(ctrlCtx, o, log, rt, np)

	<-ctx.Done()
	if o.DrainOnExit {
		log.Info("draining pods before exit")
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		rt.Drain(dctx)
		cancel()
		// Let the pod controller send the pods' final status.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && pc.SyncPodStatusFromProviderQueueLen() > 0; {
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopCtrl()
	stopRuntime()
	rt.Wait()
	var errs []error
	if err := <-ncErr; err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, err)
	}
	if err := <-pcErr; err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, err)
	}
	if err := <-apiErr; err != nil {
		errs = append(errs, err)
	}
	if err := <-fwdErr; err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// watchConfig re-reads the lab config and pushes node status changes (a
// grown or shrunk share) and image map changes.
func watchConfig(ctx context.Context, o Options, log *slog.Logger, rt *Runtime, np *nodeProvider) {
	if o.ConfigPath == "" {
		return
	}
	var lastMod time.Time
	if st, err := os.Stat(o.ConfigPath); err == nil {
		lastMod = st.ModTime()
	}
	cur, _ := o.Config.NodeByName(o.Node)
	wait.UntilWithContext(ctx, func(context.Context) {
		st, err := os.Stat(o.ConfigPath)
		if err != nil || st.ModTime().Equal(lastMod) {
			return
		}
		lastMod = st.ModTime()
		cfg, err := labconfig.Load(o.ConfigPath)
		if err != nil {
			log.Error("lab config changed but does not load; keeping the old one", "err", err)
			return
		}
		cfg = o.withShare(cfg)
		n, ok := cfg.NodeByName(o.Node)
		if !ok {
			log.Error("lab config no longer has this node; keeping its registration", "node", o.Node)
			rt.SetConfig(cfg, nil)
			return
		}
		obj, err := NodeObjectFor(cfg, o.Node, o.Reservation)
		if err != nil {
			log.Error("lab config change", "err", err)
			return
		}
		rt.SetConfig(cfg, obj.Status.Allocatable)
		if reflect.DeepEqual(n, cur) {
			return
		}
		cur = n
		log.Info("node resources changed", "allocatable", FormatResources(obj.Status.Allocatable))
		np.push(obj)
	}, o.ConfigPoll)
}

// fastLimiter retries a failing key with exponential backoff (5ms to 30s)
// and lets 200 keys per second through overall.
func fastLimiter() workqueue.TypedRateLimiter[any] {
	return workqueue.NewTypedMaxOfRateLimiter[any](
		workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 30*time.Second),
		&workqueue.TypedBucketRateLimiter[any]{Limiter: rate.NewLimiter(rate.Limit(200), 400)},
	)
}
