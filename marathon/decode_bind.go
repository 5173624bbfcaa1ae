package marathon

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// This file binds parsed JSON nodes to the model's Go types by reflection,
// matching member names exactly (Marathon is case-sensitive), keeping unknown
// members in each struct's Unknown map, and collecting every type error with
// its JSON path and offset.

// maxErrors bounds the number of type errors collected for one document.
const maxErrors = 50

// maxNotes bounds the number of decode warnings kept for one document.
const maxNotes = 1000

// nodeDecoder is implemented by model types whose JSON form is not a plain
// object (union types such as EnvValue or Constraint).
type nodeDecoder interface {
	decodeNode(d *decoder, n *node)
}

type decoder struct {
	lines lineIndex
	src   []byte
	// segs is the JSON path of the value being bound; it is formatted only
	// when an error or note is recorded.
	segs  []pathSeg
	errs  []FieldError
	notes []Issue
	// keyProbes counts the key comparisons and set look-ups made by the
	// duplicate-key check, so that tests can show it is linear.
	keyProbes int
}

func (d *decoder) pushKey(k string) { d.segs = append(d.segs, pathSeg{key: k, index: -1}) }
func (d *decoder) pushIndex(i int)  { d.segs = append(d.segs, pathSeg{index: i}) }
func (d *decoder) pop()             { d.segs = d.segs[:len(d.segs)-1] }
func (d *decoder) path() string     { return formatPath(d.segs) }

// errorf records a type error at node n, whose path is the current one.
func (d *decoder) errorf(n *node, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	line, col := d.lines.lineCol(d.src, n.start)
	d.errs = append(d.errs, FieldError{Path: d.path(), Line: line, Column: col, Offset: n.start, Message: fmt.Sprintf(format, args...)})
}

// note records a decode warning at node n, whose path is the current one.
func (d *decoder) note(n *node, sev Severity, msg, hint string) {
	if len(d.notes) >= maxNotes {
		return
	}
	line, col := d.lines.lineCol(d.src, n.start)
	d.notes = append(d.notes, Issue{Path: d.path(), Line: line, Column: col, Severity: sev, Message: msg, Hint: hint})
}

// describe says what a node is, for "expected X, got Y" messages.
func describe(n *node) string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean " + strconv.FormatBool(n.b)
	case kindNumber:
		return "number " + n.str
	case kindString:
		s := n.str
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return "string " + strconv.Quote(s)
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "a value"
}

type fieldInfo struct {
	index int
	name  string
}

type structInfo struct {
	fields     map[string]fieldInfo
	byIndex    map[int]string
	names      []string
	unknownIdx int // index of the Unknown field, -1 when absent
}

var structCache sync.Map // reflect.Type -> *structInfo

var unknownType = reflect.TypeOf(Unknown(nil))

func infoOf(t reflect.Type) *structInfo {
	if v, ok := structCache.Load(t); ok {
		return v.(*structInfo)
	}
	si := &structInfo{fields: map[string]fieldInfo{}, byIndex: map[int]string{}, unknownIdx: -1}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "Unknown" && f.Type == unknownType {
			si.unknownIdx = i
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		si.fields[name] = fieldInfo{index: i, name: name}
		si.names = append(si.names, name)
		si.byIndex[i] = name
	}
	v, _ := structCache.LoadOrStore(t, si)
	return v.(*structInfo)
}

var (
	nodeDecoderType = reflect.TypeOf((*nodeDecoder)(nil)).Elem()
	rawType         = reflect.TypeOf(json.RawMessage(nil))
)

// bind stores n into v (which must be settable); d.segs is n's path.
func (d *decoder) bind(n *node, v reflect.Value) {
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		if n.kind == kindNull {
			v.SetZero()
			return
		}
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n)
		return
	}
	if v.Type() == rawType {
		if n.kind == kindNull {
			v.SetZero()
			return
		}
		v.SetBytes(append([]byte(nil), d.src[n.start:n.end]...))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.kind == kindNull {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		d.bind(n, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.bindStruct(n, v, "")
	case reflect.Slice:
		switch n.kind {
		case kindNull:
			v.SetZero()
		case kindArray:
			s := reflect.MakeSlice(v.Type(), len(n.elems), len(n.elems))
			for i := range n.elems {
				d.pushIndex(i)
				d.bind(&n.elems[i], s.Index(i))
				d.pop()
			}
			v.Set(s)
		default:
			d.errorf(n, "expected an array, got %s", describe(n))
		}
	case reflect.Map:
		switch n.kind {
		case kindNull:
			v.SetZero()
		case kindObject:
			m := reflect.MakeMapWithSize(v.Type(), len(n.members))
			et := v.Type().Elem()
			keys := keySet{n: n}
			for i := range n.members {
				mb := &n.members[i]
				d.pushKey(mb.key)
				keys.checkDuplicate(d, i)
				if mb.val.kind == kindNull {
					d.note(&mb.val, SeverityWarning, "value is null: the entry is ignored", "remove the entry or give it a value")
					d.pop()
					continue
				}
				e := reflect.New(et).Elem()
				d.bind(&mb.val, e)
				m.SetMapIndex(reflect.ValueOf(mb.key), e)
				d.pop()
			}
			v.Set(m)
		default:
			d.errorf(n, "expected an object, got %s", describe(n))
		}
	case reflect.String:
		if n.kind == kindString {
			v.SetString(n.str)
		} else if n.kind != kindNull {
			d.errorf(n, "expected a string, got %s", describe(n))
		}
	case reflect.Bool:
		if n.kind == kindBool {
			v.SetBool(n.b)
		} else if n.kind != kindNull {
			d.errorf(n, "expected a boolean (true or false), got %s", describe(n))
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		lit, ok := d.numberLiteral(n, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(lit, 10, v.Type().Bits())
		if err != nil {
			f, ferr := strconv.ParseFloat(lit, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32*4096 {
				d.errorf(n, "expected an integer, got %s", describe(n))
				return
			}
			i = int64(f)
			if v.OverflowInt(i) {
				d.errorf(n, "integer %s is out of range", lit)
				return
			}
		}
		v.SetInt(i)
	case reflect.Float64:
		lit, ok := d.numberLiteral(n, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			d.errorf(n, "number %s is out of range", lit)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, "internal error: cannot decode into %s", v.Type())
	}
}

// numberLiteral returns the literal of a number node. A string holding a
// number is accepted with a warning (Marathon itself rejects it).
func (d *decoder) numberLiteral(n *node, want string) (string, bool) {
	switch n.kind {
	case kindNumber:
		return n.str, true
	case kindString:
		s := strings.TrimSpace(n.str)
		if _, err := strconv.ParseFloat(s, 64); err == nil && s != "" && !strings.ContainsAny(s, "xXpP_") && !strings.EqualFold(s, "inf") && !strings.EqualFold(s, "+inf") && !strings.EqualFold(s, "-inf") && !strings.EqualFold(s, "nan") && !strings.EqualFold(s, "infinity") && !strings.EqualFold(s, "+infinity") && !strings.EqualFold(s, "-infinity") {
			d.note(n, SeverityWarning, fmt.Sprintf("expected %s, got %s: read as %s", want, describe(n), s), "write the number without quotes; Marathon rejects quoted numbers")
			return s, true
		}
	case kindNull:
		return "", false
	}
	d.errorf(n, "expected %s, got %s", want, describe(n))
	return "", false
}

// bindStruct binds an object node to struct v; members named skip are left
// to the caller.
func (d *decoder) bindStruct(n *node, v reflect.Value, skip string) {
	if n.kind == kindNull {
		return
	}
	if n.kind != kindObject {
		d.errorf(n, "expected an object, got %s", describe(n))
		return
	}
	si := infoOf(v.Type())
	var unk Unknown
	keys := keySet{n: n}
	for i := range n.members {
		mb := &n.members[i]
		if mb.key == skip {
			continue
		}
		d.pushKey(mb.key)
		keys.checkDuplicate(d, i)
		fi, ok := si.fields[mb.key]
		switch {
		case ok:
			d.bind(&mb.val, v.Field(fi.index))
		case si.unknownIdx < 0:
			d.errorf(&mb.val, "unknown field %q", mb.key)
		}
		d.pop()
		if ok || si.unknownIdx < 0 {
			continue
		}
		if unk == nil {
			unk = Unknown{}
		}
		unk[mb.key] = append(json.RawMessage(nil), d.src[mb.val.start:mb.val.end]...)
	}
	if si.unknownIdx >= 0 {
		v.Field(si.unknownIdx).Set(reflect.ValueOf(unk))
	}
}

// smallObject is the member count up to which keySet scans the earlier keys
// instead of building a set: at most smallObject-1 comparisons per key, and
// no allocation for the small objects that make up most documents.
const smallObject = 8

// keySet finds the members of one object whose key repeats an earlier one,
// in time linear in the number of members. Ask about the members in source
// order (a member not asked about is not remembered).
type keySet struct {
	n    *node
	seen map[string]struct{} // built for objects larger than smallObject
}

// checkDuplicate notes when member i of the object repeats an earlier key
// (the last value wins, as in Marathon); d.segs must be the member's path.
func (s *keySet) checkDuplicate(d *decoder, i int) {
	key := s.n.members[i].key
	if s.repeated(d, i, key) {
		d.note(&s.n.members[i].val, SeverityWarning, "duplicate key "+strconv.Quote(key)+": the last value wins", "remove the duplicate")
	}
}

func (s *keySet) repeated(d *decoder, i int, key string) bool {
	if len(s.n.members) <= smallObject {
		for j := 0; j < i; j++ {
			d.keyProbes++
			if s.n.members[j].key == key {
				return true
			}
		}
		return false
	}
	if s.seen == nil {
		s.seen = make(map[string]struct{}, len(s.n.members))
	}
	d.keyProbes++
	if _, ok := s.seen[key]; ok {
		return true
	}
	s.seen[key] = struct{}{}
	return false
}

// decodeInto parses data and binds it to v (a pointer to a model type). It
// is what the model's UnmarshalJSON methods use.
func decodeInto(data []byte, v any) error {
	root, serr := parseJSON(data)
	if serr != nil {
		return newSyntaxError(data, serr)
	}
	d := &decoder{src: data}
	d.bind(&root, reflect.ValueOf(v).Elem())
	if len(d.errs) > 0 {
		return &DecodeError{Errors: d.errs}
	}
	return nil
}
