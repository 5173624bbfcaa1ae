package edge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// Target is one app to migrate on a lab: what the executor moves, the
// Helm release to install, and the Service whose endpoints serve it.
type Target struct {
	App migrate.App
	// Release is the app's Helm release (TargetFromSpec: the chart
	// converted from its Marathon definition, or its own chart). When nil,
	// Objects are packed into a chart (ChartFromObjects) released as the
	// app's name in Namespace.
	Release *Release
	// Objects are the app's Kubernetes objects (a Deployment and a Service).
	Objects []*unstructured.Unstructured
	// Namespace and Service name the Service whose EndpointSlices list the
	// app's pods; Port names its port ("" = first).
	Namespace, Service, Port string
	// Host and PathPrefix are the app's public route at nginx.
	Host, PathPrefix string
}

// Lab connects the executor's edges to a running lab: its Marathon, its
// Kubernetes API server and its shared nginx (admin API and access log).
type Lab struct {
	Cfg       labconfig.Config
	Marathon  *marathon.Client
	Clientset kubernetes.Interface
	// Kubernetes installs the apps' Helm releases.
	Kubernetes *Helm
	Traffic    *Traffic
	Nginx      *traffic.Fleet
	// Pusher serializes the followers' pushes to Nginx.
	Pusher *follow.Serial
	Tailer *traffic.Tailer
	// OnError receives follower errors (default: dropped).
	OnError func(error)

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
}

// NewLab connects to the lab; statsWindow is the span of the access-log
// statistics a step is judged on (use the plan's pause per step).
func NewLab(cfg labconfig.Config, statsWindow time.Duration) (*Lab, error) {
	mc, err := marathon.NewClient(marathon.Config{URL: "http://" + cfg.Marathon.Listen})
	if err != nil {
		return nil, err
	}
	kc, err := kubeclient.FromKubeconfig(lab.Kubeconfig(cfg), 100, 200)
	if err != nil {
		return nil, fmt.Errorf("lab %w", err)
	}
	n, err := labnginx.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lab{Cfg: cfg, Marathon: mc, Clientset: kc.Clientset, ctx: ctx, cancel: cancel,
		Kubernetes: &Helm{Kube: &deploy.KubeConfig{Kubeconfig: lab.Kubeconfig(cfg)}, Clients: kc},
		Traffic:    &Traffic{}, Nginx: n.TrafficClient(),
		Tailer: traffic.NewTailer(labnginx.LayoutFor(cfg).AccessLog, statsWindow, false)}
	l.Pusher = &follow.Serial{Pusher: l.Nginx}
	go l.Tailer.Run(ctx)
	return l, nil
}

// Executor returns an executor on this lab's edges writing to j.
func (l *Lab) Executor(j journal.Journal) *migrate.Executor {
	return &migrate.Executor{Journal: j, Kubernetes: l.Kubernetes, Marathon: Marathon{Client: l.Marathon}, Traffic: l.Traffic, Stats: Stats{Tailer: l.Tailer}}
}

// Add starts following an app's backends on both platforms (Marathon event
// stream + resync, EndpointSlice informer). The follower starts from the
// share journaled for the app in j (nil: Marathon only), so a restarted
// executor never pushes a different split than the one it resumes.
func (l *Lab) Add(ctx context.Context, t Target, j journal.Journal) (*follow.Follower, error) {
	rel := t.Release
	if rel == nil {
		ch, err := ChartFromObjects(t.App.Name, t.Objects)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", t.App.Name, err)
		}
		rel = &Release{Name: t.App.Name, Namespace: t.Namespace, Chart: ch}
	}
	l.Kubernetes.Set(t.App.Name, *rel)
	f := &follow.Follower{Routes: []traffic.Route{{Name: t.App.Route, Host: t.Host, PathPrefix: t.PathPrefix}}, Client: l.Pusher,
		Marathon: follow.MarathonTasks{Client: l.Marathon, AppID: t.App.MarathonID}, Resync: 2 * time.Second}
	share, in := 0, true
	if j != nil {
		s, found, err := migrate.Latest(j, t.App.Name)
		if err != nil {
			return nil, err
		}
		if found {
			share, in = s.KubePercent, !s.MarathonDown
		}
	}
	f.Init(share, in)
	eps, err := follow.WatchEndpoints(l.ctx, l.Clientset, t.Namespace, t.Service, f)
	if err != nil {
		return nil, err
	}
	eps.Port = t.Port
	f.Kubernetes = eps
	if err := follow.WatchMarathon(l.ctx, l.Marathon, t.App.MarathonID, f); err != nil {
		return nil, err
	}
	l.Traffic.Add(t.App.Name, f)
	go f.Run(l.ctx, l.OnError)
	return f, nil
}

// Close stops the followers and the access-log tailer.
func (l *Lab) Close() { l.cancel() }
