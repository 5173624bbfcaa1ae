package deploy

import (
	"errors"
	"testing"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/marathon"
)

func TestMarathonEachDefaults(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	tests := []struct {
		name     string
		app, cur *marathon.App
		want     capacity.Resources
		n        int
	}{
		{"Marathon defaults", &marathon.App{}, nil, capacity.Resources{CPUs: 1, Mem: 128}, 1},
		{"explicit", &marathon.App{CPUs: f(0.5), Mem: f(64), Disk: f(10), Instances: i(3)}, nil, capacity.Resources{CPUs: 0.5, Mem: 64, Disk: 10}, 3},
		{"update keeps the current values it leaves out", &marathon.App{Mem: f(32)}, &marathon.App{CPUs: f(2), Instances: i(4)}, capacity.Resources{CPUs: 2, Mem: 32}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := marathonEach(tc.app, tc.cur)
			if !got.Equal(tc.want) || n != tc.n {
				t.Errorf("marathonEach = %v × %d, want %v × %d", got, n, tc.want, tc.n)
			}
		})
	}
}

func TestPodDemandsAndFitMarathonUpdate(t *testing.T) {
	objs, err := kubeclient.DecodeObjects([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: a, image: x, resources: {requests: {cpu: 250m, memory: 64Mi}}}
      - {name: b, image: x, resources: {requests: {cpu: 250m}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: x, resources: {requests: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := podDemands(objs)
	if len(d) != 2 || d[0].Name != "Deployment web" || d[0].Count != 3 || !d[0].Each.Equal(capacity.Resources{CPUs: 0.5, Mem: 64}) ||
		d[1].Name != "StatefulSet db" || d[1].Count != 1 || !d[1].Each.Equal(capacity.Resources{CPUs: 1, Mem: 1024}) {
		t.Fatalf("demands %+v", d)
	}

	// An update frees the app's own tasks: 2 × 1.5 cpus on a 4-cpu node
	// holding the app's 2 × 1 cpus fits only because they are freed.
	cl := capacity.Cluster{Nodes: []capacity.Node{{Name: "n1", AgentID: "n1", Total: capacity.Resources{CPUs: 4, Mem: 4096},
		MesosAllocated: capacity.Resources{CPUs: 2, Mem: 256}, MesosTasks: 2,
		Tasks: []capacity.Task{{ID: "a", App: "/web", Resources: capacity.Resources{CPUs: 1, Mem: 128}}, {ID: "b", App: "/web", Resources: capacity.Resources{CPUs: 1, Mem: 128}}}}}}
	two, cpus := 2, 1.5
	p := &plan{app: &marathon.App{ID: "/web", Instances: &two, CPUs: &cpus}, exists: true}
	if _, err := fitMarathon(cl, p); err != nil {
		t.Errorf("update with its own tasks freed: %v", err)
	}
	p.exists = false
	p.app.ID = "/other"
	var fe *capacity.FitError
	if _, err := fitMarathon(cl, p); !errors.As(err, &fe) || fe.Node != "n1" || fe.Resource != "cpus" || fe.App != "/other" {
		t.Errorf("a new app on the same room: %v", err)
	}
}
