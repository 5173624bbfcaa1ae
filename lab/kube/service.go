package kube

import (
	"strconv"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// APIServiceIP returns the cluster IP of the `kubernetes` Service (the first
// address of the service range). The lab has no kube-proxy, so pods cannot
// reach it: they get PodAPIAddress instead.
func APIServiceIP(cfg labconfig.Config) (string, error) {
	ip, err := firstServiceIP(cfg.Kubernetes.ServiceCIDR)
	if err != nil {
		return "", err
	}
	return ip.String(), nil
}

// PodAPIAddress returns where pods reach the API server: the pod network's
// gateway (the lab bridge's address) on the API server's port, where every
// node agent forwards connections from pods to the API server on loopback.
// The API server's certificate names that address, so in-cluster clients
// (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount's ca.crt) verify it.
func PodAPIAddress(cfg labconfig.Config) (host, port string, err error) {
	gw, err := cfg.Kubernetes.PodGateway()
	if err != nil {
		return "", "", err
	}
	return gw.String(), strconv.Itoa(cfg.Kubernetes.APIServerPort), nil
}
