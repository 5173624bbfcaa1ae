package cli

import (
	"testing"

	"github.com/switchyard/switchyard/capacity"
)

func TestKubeletWrapperValidate(t *testing.T) {
	ov := capacity.DefaultOverhead()
	kr, ev := capacity.FormatResources(ov.KubeReserved), capacity.FormatResources(ov.EvictionHard)
	tests := []struct {
		name                       string
		kubeReserved, evictionHard string
		want                       string // "" when valid
	}{
		{"defaults", kr, ev, ""},
		{"given", "cpus=0.2,mem=512", "mem=100,disk=1024", ""},
		{"bad --kube-reserved", "cpus=lots", ev, "--kube-reserved"},
		{"bad --eviction-hard", kr, "mem", "--eviction-hard"},
		{"both bad: --kube-reserved first", "x", "y", "--kube-reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &kubeletWrapperOptions{kubeReserved: tt.kubeReserved, evictionHard: tt.evictionHard}
			checkValidate(t, o.Validate(), tt.want)
		})
	}
}
