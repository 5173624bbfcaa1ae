package marathon

import "reflect"

// Volume access modes.
const (
	VolumeModeRO = "RO"
	VolumeModeRW = "RW"
)

// AppVolume is a volume of an app container: a host volume (HostPath), a
// local persistent volume (Persistent), an external volume (External) or a
// secret volume (Secret); exactly one of them is set in a valid definition.
type AppVolume struct {
	ContainerPath *string           `json:"containerPath,omitempty"`
	HostPath      *string           `json:"hostPath,omitempty"`
	Mode          *string           `json:"mode,omitempty"`
	Persistent    *PersistentVolume `json:"persistent,omitempty"`
	External      *ExternalVolume   `json:"external,omitempty"`
	Secret        *string           `json:"secret,omitempty"`
	Unknown       Unknown           `json:"-"`
}

// PersistentVolume is a local persistent volume (RAML PersistentVolumeInfo).
type PersistentVolume struct {
	Type        *string      `json:"type,omitempty"`
	Size        *int64       `json:"size,omitempty"`
	MaxSize     *int64       `json:"maxSize,omitempty"`
	ProfileName *string      `json:"profileName,omitempty"`
	Constraints []Constraint `json:"constraints,omitzero"`
	Unknown     Unknown      `json:"-"`
}

// ExternalVolume is an external (DVDI or CSI) volume. DVDI options are a
// string map (Options); CSI options (provider "csi") are structured (CSI).
type ExternalVolume struct {
	Name     *string `json:"name,omitempty"`
	Provider *string `json:"provider,omitempty"`
	Size     *int64  `json:"size,omitempty"`
	Shared   *bool   `json:"shared,omitempty"`
	// Options are the DVDI options ("dvdi/driver": "rexray", ...).
	Options Labels `json:"-"`
	// CSI are the options of a CSI volume (they have "pluginName"/"capability").
	CSI     *CSIVolumeOptions `json:"-"`
	Unknown Unknown           `json:"-"`
}

// CSIVolumeOptions are the options of a CSI external volume.
type CSIVolumeOptions struct {
	PluginName        string         `json:"pluginName"`
	Capability        *CSICapability `json:"capability,omitempty"`
	NodeStageSecret   Labels         `json:"nodeStageSecret,omitzero"`
	NodePublishSecret Labels         `json:"nodePublishSecret,omitzero"`
	VolumeContext     Labels         `json:"volumeContext,omitzero"`
	Unknown           Unknown        `json:"-"`
}

// CSICapability is the access mode and type of a CSI volume.
type CSICapability struct {
	AccessMode *string  `json:"accessMode,omitempty"`
	AccessType *string  `json:"accessType,omitempty"`
	FSType     *string  `json:"fsType,omitempty"`
	MountFlags []string `json:"mountFlags,omitzero"`
	Unknown    Unknown  `json:"-"`
}

// PodVolume is a volume of a pod: ephemeral (Name only), host (Host),
// persistent (Persistent) or secret (Secret).
type PodVolume struct {
	Name       string            `json:"name"`
	Host       *string           `json:"host,omitempty"`
	Persistent *PersistentVolume `json:"persistent,omitempty"`
	Secret     *string           `json:"secret,omitempty"`
	Unknown    Unknown           `json:"-"`
}

// VolumeMount mounts a pod volume into a pod container.
type VolumeMount struct {
	Name      string  `json:"name"`
	MountPath string  `json:"mountPath"`
	ReadOnly  *bool   `json:"readOnly,omitempty"`
	Unknown   Unknown `json:"-"`
}

// MarshalJSON writes the volume with its DVDI or CSI options.
func (x ExternalVolume) MarshalJSON() ([]byte, error) {
	type plain ExternalVolume
	var w struct {
		plain
		Options any `json:"options,omitempty"`
	}
	w.plain = plain(x)
	if x.CSI != nil {
		w.Options = x.CSI
	} else if x.Options != nil {
		w.Options = x.Options
	}
	return marshalObject(w, x.Unknown)
}

func (x *ExternalVolume) decodeNode(d *decoder, n *node) {
	*x = ExternalVolume{}
	d.bindStruct(n, reflect.ValueOf(x).Elem(), "options")
	if n.kind != kindObject {
		return
	}
	opts := n.get("options")
	if opts == nil || opts.kind == kindNull {
		return
	}
	d.pushKey("options")
	defer d.pop()
	if opts.kind == kindObject && (opts.get("pluginName") != nil || opts.get("capability") != nil) {
		x.CSI = &CSIVolumeOptions{}
		d.bind(opts, reflect.ValueOf(x.CSI).Elem())
		return
	}
	d.bind(opts, reflect.ValueOf(&x.Options).Elem())
}
