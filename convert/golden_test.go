package convert_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/shareddata"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden compares the manifests and the text report of a few sources
// (the demo app, and corpus files with a group, a pod, persistent volumes
// and constraints) with reviewed golden files.
func TestGolden(t *testing.T) {
	dir := shareddata.RequireDir(t)
	c := func(name string) string { return filepath.Join(dir, "corpus", "marathon", name) }
	sources := []string{
		"../examples/marathon/web.json",
		"../examples/marathon/static.json",
		c("011-hulikeji__mesos-kafka-marathon.json"),
		c("019-maksimburdasov__reporter_service.json"),
		c("029-appliedis__prometheus-dcos.json"),
		c("074-mesosphere__marathon.json"),
		c("088-dcos-labs__container-deployment.json"),
	}
	for _, src := range sources {
		name := strings.TrimSuffix(filepath.Base(src), ".json")
		t.Run(name, func(t *testing.T) {
			got := render(t, convertFile(t, src, convert.Options{}))
			golden := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./convert -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (review, then -update):\n%s", golden, firstDiff(string(got), string(want)))
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + al[i] + "\nwant: " + bl[i]
		}
	}
	return "lengths differ"
}
