package marathon

import (
	"reflect"
	"strconv"
	"strings"
)

// splitPath parses a path such as `apps[0].env["a.b"]` into segments.
func splitPath(path string) ([]pathSeg, bool) {
	var segs []pathSeg
	for path != "" {
		switch {
		case path[0] == '.':
			path = path[1:]
		case strings.HasPrefix(path, "[\""):
			end := closingQuote(path)
			if end < 0 {
				return nil, false
			}
			key, err := strconv.Unquote(path[1 : end+1])
			if err != nil {
				return nil, false
			}
			segs = append(segs, pathSeg{key: key, index: -1})
			path = strings.TrimPrefix(path[end+1:], "]")
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return nil, false
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil || i < 0 {
				return nil, false
			}
			segs = append(segs, pathSeg{index: i})
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, pathSeg{key: path[:end], index: -1})
			path = path[end:]
		}
	}
	return segs, true
}

var (
	envValueType       = reflect.TypeOf(EnvValue{})
	externalVolumeType = reflect.TypeOf(ExternalVolume{})
)

// knownFieldsAt returns the member names the model knows for the object at
// path in the document (nil when path does not lead to a model object).
func knownFieldsAt(def *Definition, path string) []string {
	segs, ok := splitPath(path)
	if !ok {
		return nil
	}
	var t reflect.Type
	switch def.Kind {
	case KindApp:
		t = reflect.TypeOf(App{})
		if def.Envelope == EnvelopeApp && len(segs) > 0 {
			segs = segs[1:]
		}
	case KindAppList:
		t = reflect.TypeOf([]App{})
		if def.Envelope == EnvelopeApps && len(segs) > 0 {
			segs = segs[1:]
		}
	case KindGroup:
		t = reflect.TypeOf(Group{})
	case KindPod:
		t = reflect.TypeOf(Pod{})
	default:
		return nil
	}
	for _, s := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == envValueType:
			t = reflect.TypeOf(SecretRef{})
			fallthrough
		case t.Kind() == reflect.Struct:
			if t == externalVolumeType && s.key == "options" {
				t = reflect.TypeOf(CSIVolumeOptions{})
				continue
			}
			fi, ok := infoOf(t).fields[s.key]
			if !ok || s.index >= 0 {
				return nil
			}
			t = t.Field(fi.index).Type
		case t.Kind() == reflect.Slice && s.index >= 0, t.Kind() == reflect.Map && s.index < 0:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == envValueType {
		t = reflect.TypeOf(SecretRef{})
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return infoOf(t).names
}
