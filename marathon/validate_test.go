package marathon

import (
	"path/filepath"
	"testing"
)

func TestCorpusValidates(t *testing.T) {
	var files, apps, groups, pods, lists, warnings, unknown int
	for _, f := range corpusFiles(t) {
		def, err := DecodeFile(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		files++
		switch def.Kind {
		case KindApp:
			apps++
		case KindAppList:
			lists++
		case KindGroup:
			groups++
		case KindPod:
			pods++
		}
		unknown += len(UnknownFields(def))
		for _, is := range Validate(def) {
			if is.Severity == SeverityError {
				t.Errorf("%s: line %d: %s: %s (%s)", filepath.Base(f), is.Line, is.Path, is.Message, is.Hint)
			} else {
				warnings++
			}
		}
	}
	t.Logf("corpus: %d files (%d apps, %d app lists, %d groups, %d pods), %d warnings, %d unknown fields", files, apps, lists, groups, pods, warnings, unknown)
}
