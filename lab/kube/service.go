package kube

import "github.com/switchyard/switchyard/lab/labconfig"

// APIServiceIP returns the cluster IP of the `kubernetes` Service (the first
// address of the service range), which kubelets hand to every container as
// KUBERNETES_SERVICE_HOST.
func APIServiceIP(cfg labconfig.Config) (string, error) {
	ip, err := firstServiceIP(cfg.Kubernetes.ServiceCIDR)
	if err != nil {
		return "", err
	}
	return ip.String(), nil
}
