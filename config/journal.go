package config

import (
	"strconv"
	"strings"
)

// Journal types (Journal.Type).
const (
	// JournalBolt is a bbolt file (Path) that one process holds: the default.
	JournalBolt = "bbolt"
	// JournalEtcd is the journal, and the leader election of the `serve`
	// replicas sharing it, in etcd under Prefix (package journal/etcdjournal).
	JournalEtcd = "etcd"
)

// Journal is where migrations are journaled: a bbolt file (the default) or
// etcd.
type Journal struct {
	// Type is JournalBolt (or empty) or JournalEtcd.
	Type string `json:"type,omitempty"`
	// Path is the journal file (bbolt; default ~/.local/state/switchyard/<context>/journal.db).
	Path string `json:"path,omitempty"`
	// Endpoints are etcd's client URLs (etcd; all https or all http).
	Endpoints []string `json:"endpoints,omitempty"`
	// Prefix is the etcd key prefix of the journal and the election (etcd;
	// default /switchyard/<context>). Replicas of one control plane must
	// share it, whatever their contexts are named: set it.
	Prefix string `json:"prefix,omitempty"`
	// CAFile is a PEM CA bundle trusted for the https endpoints (etcd;
	// default: the system's).
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are the client certificate and its key (PEM),
	// for an etcd that requires client certificates (etcd).
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// validate checks the journal section, reporting each problem with add
// (field, message).
func (j Journal) validate(add func(field, format string, args ...any)) {
	etcdFields := map[string]bool{"endpoints": len(j.Endpoints) > 0, "prefix": j.Prefix != "", "caFile": j.CAFile != "", "certFile": j.CertFile != "", "keyFile": j.KeyFile != ""}
	switch j.Type {
	case "", JournalBolt:
		var extra []string
		for _, f := range []string{"endpoints", "prefix", "caFile", "certFile", "keyFile"} {
			if etcdFields[f] {
				extra = append(extra, f)
			}
		}
		if len(extra) > 0 {
			add("journal", "%s: only used with type %s (set type: %s, or remove them)", strings.Join(extra, ", "), JournalEtcd, JournalEtcd)
		}
		return
	case JournalEtcd:
	default:
		add("journal.type", "%q: use %s (the default, a file) or %s", j.Type, JournalBolt, JournalEtcd)
		return
	}
	if j.Path != "" {
		add("journal.path", "not used with type %s (the journal is in etcd, under journal.prefix)", JournalEtcd)
	}
	if len(j.Endpoints) == 0 {
		add("journal.endpoints", "required with type %s (etcd's client URLs, e.g. https://10.0.0.7:2379)", JournalEtcd)
	}
	schemes := map[string]bool{}
	for i, e := range j.Endpoints {
		if err := checkURL(e); err != nil {
			add("journal.endpoints["+strconv.Itoa(i)+"]", "%v", err)
			continue
		}
		scheme, _, _ := strings.Cut(e, ":")
		schemes[scheme] = true
	}
	if len(schemes) > 1 {
		add("journal.endpoints", "mix http and https: use one")
	}
	if p := j.Prefix; p != "" && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//")) {
		add("journal.prefix", "%q: must start with / and have no empty segment nor trailing / (e.g. /switchyard/prod)", p)
	}
	if (j.CertFile == "") != (j.KeyFile == "") {
		add("journal", "certFile and keyFile go together (the client certificate and its key)")
	}
	if schemes["http"] && (j.CAFile != "" || j.CertFile != "") {
		add("journal", "caFile, certFile and keyFile need https endpoints")
	}
}
