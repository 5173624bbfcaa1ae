// Package edgetest is test support for the migration's edges: the demo app
// (switchyard demo-app) as a Marathon app and as its Kubernetes twin, the
// one copy tests and benchmarks on the lab deploy. No product package
// imports it.
package edgetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
)

// DemoApp returns the demo app (switchyard demo-app) as a Marathon app with
// HTTP health checks and as its Kubernetes twin (Namespace, Deployment with
// a readiness probe, Service), for tests and benchmarks on the lab.
// kubeEnv adds environment to the Kubernetes version only (e.g.
// DEMO_FAIL_RATE for a bad release).
func DemoApp(name, ns string, instances int, kubeEnv map[string]string, plan migrate.Spec) (*marathon.App, edge.Target, error) {
	id := "/" + ns + "/" + name
	def := fmt.Sprintf(`{"id": %q, "instances": %d, "cpus": 0.02, "mem": 16,
	  "container": {"type": "DOCKER", "docker": {"image": "switchyard/demo-app:1"}},
	  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
	  "env": {"DEMO_VERSION": "marathon"},
	  "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 10,
	    "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
	  "taskKillGracePeriodSeconds": 3}`, id, instances)
	var a marathon.App
	if err := json.Unmarshal([]byte(def), &a); err != nil {
		return nil, edge.Target{}, err
	}
	keys := make([]string, 0, len(kubeEnv))
	for k := range kubeEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var extra strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&extra, "\n            - {name: %s, value: %q}", k, kubeEnv[k])
	}
	y := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: %[4]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
        - name: demo
          image: switchyard/demo-app:1
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: PORT, value: "8080"}
            - {name: DEMO_VERSION, value: kubernetes}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}%[3]s
          readinessProbe:
            httpGet: {path: /ready, port: http}
            periodSeconds: 1
          resources:
            requests: {cpu: 20m, memory: 16Mi}
---
apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  selector: {app: %[2]s}
  ports: [{name: http, port: 80, targetPort: http}]
`, ns, name, extra.String(), instances)
	objs, err := kubeclient.DecodeObjects([]byte(y))
	if err != nil {
		return nil, edge.Target{}, err
	}
	return &a, edge.Target{App: migrate.App{Name: name, MarathonID: id, Route: name, Spec: plan}, Objects: objs,
		Namespace: ns, Service: name, PathPrefix: "/" + name}, nil
}
