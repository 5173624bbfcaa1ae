package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// marshalObject encodes known (a model struct converted to a method-less
// type) and appends the unknown members, sorted by name. Unknown members that
// collide with a known field name are skipped: the typed field wins.
func marshalObject(known any, unk Unknown) ([]byte, error) {
	b, err := json.Marshal(known)
	if err != nil {
		return nil, err
	}
	if len(unk) == 0 {
		return b, nil
	}
	si := infoOf(reflect.TypeOf(known))
	keys := make([]string, 0, len(unk))
	for k := range unk {
		if _, isKnown := si.fields[k]; !isKnown {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return b, nil
	}
	sort.Strings(keys)
	var out bytes.Buffer
	out.Grow(len(b) + 32*len(keys))
	out.Write(b[:len(b)-1])
	first := len(b) == 2 // "{}"
	for _, k := range keys {
		raw := unk[k]
		if !json.Valid(raw) {
			return nil, fmt.Errorf("unknown member %q holds invalid JSON", k)
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(raw)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// UnknownFields lists the JSON paths of every unknown member kept anywhere
// in v (a *Definition, *App, *Group, *Pod or any model value), sorted, e.g.
// "container.docker.foo" or "apps[0].healthChecks[1].portType". Paths are
// relative to v.
func UnknownFields(v any) []string {
	var out []string
	if def, ok := v.(*Definition); ok {
		for k := range def.EnvelopeUnknown {
			out = append(out, joinKey("", k))
		}
		switch def.Kind {
		case KindApp:
			prefix := ""
			if def.Envelope == EnvelopeApp {
				prefix = "app"
			}
			walkUnknown(reflect.ValueOf(def.App), prefix, &out)
		case KindAppList:
			prefix := ""
			if def.Envelope == EnvelopeApps {
				prefix = "apps"
			}
			walkUnknown(reflect.ValueOf(def.Apps), prefix, &out)
		case KindGroup:
			walkUnknown(reflect.ValueOf(def.Group), "", &out)
		case KindPod:
			walkUnknown(reflect.ValueOf(def.Pod), "", &out)
		}
	} else {
		walkUnknown(reflect.ValueOf(v), "", &out)
	}
	sort.Strings(out)
	return out
}

// UnknownFields lists the JSON paths of the unknown members of the app.
func (a *App) UnknownFields() []string { return UnknownFields(a) }

// UnknownFields lists the JSON paths of the unknown members of the group.
func (g *Group) UnknownFields() []string { return UnknownFields(g) }

// UnknownFields lists the JSON paths of the unknown members of the pod.
func (p *Pod) UnknownFields() []string { return UnknownFields(p) }

func walkUnknown(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkUnknown(v.Elem(), path, out)
		}
	case reflect.Slice:
		if v.Type() == rawType {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkUnknown(v.Index(i), joinIndex(path, i), out)
		}
	case reflect.Map:
		if v.Type() == unknownType || v.Type().Elem().Kind() == reflect.String {
			return
		}
		keys := v.MapKeys()
		for _, k := range keys {
			walkUnknown(v.MapIndex(k), joinKey(path, k.String()), out)
		}
	case reflect.Struct:
		t := v.Type()
		si := infoOf(t)
		if si.unknownIdx >= 0 {
			for k := range v.Field(si.unknownIdx).Interface().(Unknown) {
				*out = append(*out, joinKey(path, k))
			}
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || i == si.unknownIdx {
				continue
			}
			sub := path
			if name, ok := si.byIndex[i]; ok {
				sub = joinKey(path, name)
			} else if special, ok := specialFieldPath[t.Name()+"."+f.Name]; ok {
				if special != "" {
					sub = joinKey(path, special)
				}
			} else {
				continue
			}
			walkUnknown(v.Field(i), sub, out)
		}
	}
}

// specialFieldPath names the JSON member of fields encoded by hand.
var specialFieldPath = map[string]string{
	"ExternalVolume.CSI": "options",
	"EnvValue.Secret":    "",
}
