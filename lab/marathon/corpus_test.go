package marathon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/shareddata"
	"github.com/switchyard/switchyard/marathon"
)

// TestCorpusAppsAccepted feeds every app of the shared corpus of real
// Marathon definitions (apps, arrays of apps, groups) through the lab
// Marathon's create-time decoding and validation. A file the lab refuses
// must be one that Marathon refuses too: the marathon model's strict
// validation must find a rule Marathon's API enforces (or the file must not
// decode), so the lab's own rules never reject what Marathon accepts.
func TestCorpusAppsAccepted(t *testing.T) {
	files := shareddata.RequireCorpus(t)
	ts := StartForTest(t, TestConfig(t, 1))
	var refused []string
	refusedFiles := map[string][]byte{}
	typeErrors := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".tsv") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var probe any
		if json.Unmarshal(raw, &probe) != nil {
			continue // not JSON (the model's tests cover these)
		}
		name := filepath.Base(f)
		var apps []json.RawMessage
		switch v := probe.(type) {
		case []any:
			_ = json.Unmarshal(raw, &apps)
		case map[string]any:
			if _, isApp := v["cmd"]; isApp || v["container"] != nil || v["args"] != nil {
				apps = []json.RawMessage{raw}
			} else if a, ok := v["app"]; ok {
				b, _ := json.Marshal(a)
				apps = []json.RawMessage{b}
			} else if _, isGroup := v["groups"]; isGroup || v["apps"] != nil {
				status, _, body := call(t, ts, "PUT", "/v2/groups?dryRun=true", string(raw))
				if status != 200 {
					refused = append(refused, name+": "+string(body))
					refusedFiles[name] = raw
				}
				continue
			}
		}
		for _, a := range apps {
			d, e := decodeAppDef(a)
			if e == nil {
				if d.id() == "" {
					d.set("id", "/corpus-app")
				}
				_, e = finishApp(d, "", nil, "")
			}
			if e != nil {
				b, _ := json.Marshal(e)
				refused = append(refused, name+": "+string(b))
				refusedFiles[name] = a
				// Marathon's JSON reads refuse a value of the wrong JSON type
				// ("0.5" for cpus) where the model is lenient.
				if e.Message == "Invalid JSON" && strings.HasPrefix(e.Details[0].Errors[0], "error.expected.") {
					typeErrors[name] = true
				}
			}
		}
	}
	for _, r := range refused {
		t.Log(r)
	}
	t.Logf("%d of %d corpus files refused", len(refused), len(files))
	for name, raw := range refusedFiles {
		def, err := marathon.Decode(raw)
		if err != nil || templated(raw) || typeErrors[name] {
			continue
		}
		justified := false
		for _, is := range marathon.ValidateWith(def, marathon.Options{Strict: true}) {
			justified = justified || (is.Severity == marathon.SeverityError && is.MarathonRejects)
		}
		if !justified {
			t.Errorf("the lab refuses %s, which Marathon accepts", name)
		}
	}
}

// templated reports whether a definition still holds template placeholders
// (${VAR}, {{var}}, @var@, <var>), which make it invalid until rendered.
func templated(raw []byte) bool {
	return templateRe.Match(raw)
}

var templateRe = regexp.MustCompile(`"id"\s*:\s*"[^"]*(\$\{|\{\{|@[A-Za-z_]+@|<[A-Za-z_]+>)`)
