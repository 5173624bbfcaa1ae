package e2e

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// nginxProcs returns the master's pid and its children (the workers): a
// reload replaces the workers.
func nginxProcs(t *testing.T) string {
	t.Helper()
	n, err := labnginx.New(theLab.Config)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := n.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	kids, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(pid) + ": " + strings.TrimSpace(string(kids))
}

// TestNginxRefusesMidShift makes the real nginx refuse the routing-state
// push of the migration's last step (100 % to Kubernetes): once with a
// state its admin API finds invalid (400: a backend listed twice), once
// with a stale version (409). Each migration must end consistent: rolled
// back (Marathon alone serves the route, healthy; the Kubernetes objects
// gone), no failed request, and the journal entry of the rollback names
// the refusal with nginx's own message. nginx is never reloaded (same
// master and workers).
func TestNginxRefusesMidShift(t *testing.T) {
	for _, tc := range []struct {
		kind  RefusalKind
		nginx string // nginx's own words, from its admin API
	}{
		{RefuseInvalid, "400 Bad Request: routes["},
		{RefuseStale, "is not newer than the active version"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := setup(t, time.Second)
			faults := &NginxFaults{Client: e.lab.LB}
			e.lab.Pusher = &follow.Serial{Pusher: faults}
			name := "ref" + string(tc.kind)
			p := migrate.Spec{Steps: []int{50, 100}, PausePerStep: time.Second, Soak: time.Second, MaxErrorRate: 0.01, MinRequests: 5}
			tgt := e.deploy(t, name, nil, p)
			faults.Arm(Refusal{Kind: tc.kind, Route: name, MinKubePercent: 100})
			procs := nginxProcs(t)
			res := load(theLab.Config.Nginx.Listen, "/"+name+"/")
			time.Sleep(time.Second)
			r := e.x.Migrate(context.Background(), tgt.App)
			time.Sleep(time.Second)
			lg := res.Stop()
			t.Logf("executor:\n%s\nload: %s", e.out.String(), lg)

			refused := faults.Refused()
			if len(refused) != 1 || !strings.Contains(refused[0].Error(), tc.nginx) {
				t.Fatalf("nginx refusals: %v, want one saying %q", refused, tc.nginx)
			}
			var rb *migrate.RolledBackError
			if !errors.As(r.Err, &rb) || r.State.Phase != migrate.RolledBack || !strings.Contains(rb.Reason, refused[0].Error()) {
				t.Fatalf("migration: %s %v, want rolled back naming %q", r.State.Phase, r.Err, refused[0])
			}
			if lg.Failed != 0 {
				t.Fatalf("%d of %d requests failed: %v", lg.Failed, lg.Sent, lg.Errors)
			}
			// The journal: the shift's failure names nginx's refusal, then the rollback to the end.
			es, err := e.j.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			named := false
			for _, en := range es {
				if en.Event == string(migrate.EvFailed) && en.To == "RollingBack[weights]" && strings.Contains(en.Reason, "set weights kubernetes=100%") && strings.Contains(en.Reason, refused[0].Error()) {
					named = true
				}
			}
			if !named || es[len(es)-1].To != "RolledBack" {
				t.Fatalf("journal lacks the refusal or the end: %+v", es)
			}
			// Exactly one healthy platform serves the route: Marathon.
			st, err := e.lab.LB.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rt, _ := st.Route(name)
			if sh := traffic.Percents(rt.Backends); sh[traffic.Marathon] != 100 || len(rt.Backends) != 2 {
				t.Fatalf("route after the refusal: %+v", rt.Backends)
			}
			a, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID)
			if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
				t.Fatalf("Marathon after the refusal: %v", err)
			}
			if _, err := e.lab.Clientset.AppsV1().Deployments("mig").Get(context.Background(), name, metav1.GetOptions{}); err == nil {
				t.Fatalf("Deployment %s still there", name)
			}
			checkNoHelmRelease(t, e, "mig", name)
			if now := nginxProcs(t); now != procs {
				t.Fatalf("nginx was reloaded during the migration: %s → %s", procs, now)
			}
		})
	}
}
