// Command etcd is the etcd server at the version Kubernetes v1.37.2 pins
// (go.etcd.io/etcd/server/v3 v3.7.0), built by scripts/build-kube.sh for the
// lab. Debian's etcd 3.4.23 lacks the watch progress notifications that
// kube-apiserver 1.37 needs for streaming watch-lists and consistent reads
// from its cache; without them kwok's informers churn at scale.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
