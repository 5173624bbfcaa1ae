package marathon

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON parser that keeps the byte offset of every
// value, so that type errors and validation issues can name a line and
// column, and unknown members can be kept verbatim.

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

type node struct {
	kind  nodeKind
	start int // offset of the first byte of the value
	end   int // offset just past the value
	b     bool
	str   string // unescaped string, or the literal of a number
	// members of an object, in source order.
	members []member
	// elements of an array.
	elems []node
}

type member struct {
	key    string
	keyOff int
	val    node
}

// get returns the value of the last member named key, or nil.
func (n *node) get(key string) *node {
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return &n.members[i].val
		}
	}
	return nil
}

// syntaxError is a JSON syntax error at a byte offset, with the JSON path of
// the innermost value being read.
type syntaxError struct {
	off  int
	path string
	msg  string
}

type parser struct {
	src   []byte
	pos   int
	depth int
	path  []pathSeg
	err   *syntaxError
}

// pathSeg is one step of a JSON path: an object key or an array index.
type pathSeg struct {
	key   string
	index int // -1 for keys
}

func parseJSON(src []byte) (node, *syntaxError) {
	p := &parser{src: src}
	p.skipWS()
	n := p.value()
	if p.err != nil {
		return node{}, p.err
	}
	p.skipWS()
	if p.pos < len(p.src) {
		p.fail(p.pos, "unexpected "+describeByte(p.src[p.pos])+" after the end of the top-level value")
		return node{}, p.err
	}
	return n, nil
}

func (p *parser) fail(off int, msg string) {
	if p.err == nil {
		p.err = &syntaxError{off: off, path: formatPath(p.path), msg: msg}
	}
}

func (p *parser) skipWS() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func describeByte(c byte) string {
	switch {
	case c == '"':
		return "'\"'"
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	default:
		return "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
}

func (p *parser) eof(what string) {
	p.fail(len(p.src), "unexpected end of input "+what+" (the JSON is truncated)")
}

func (p *parser) value() node {
	if p.err != nil {
		return node{}
	}
	if p.pos >= len(p.src) {
		p.eof("while looking for a value")
		return node{}
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, ok := p.string()
		if !ok {
			return node{}
		}
		return node{kind: kindString, start: start, end: p.pos, str: s}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", node{kind: kindBool, b: true})
	case c == 'f':
		return p.literal("false", node{kind: kindBool})
	case c == 'n':
		return p.literal("null", node{kind: kindNull})
	default:
		p.fail(p.pos, "invalid character "+describeByte(c)+" looking for the beginning of a value")
		return node{}
	}
}

func (p *parser) literal(word string, n node) node {
	start := p.pos
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.src) {
			p.eof("in literal " + word)
			return node{}
		}
		if p.src[p.pos] != word[i] {
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" in literal "+word)
			return node{}
		}
		p.pos++
	}
	n.start, n.end = start, p.pos
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number() node {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	digits := func(what string) bool {
		if p.pos >= len(p.src) {
			p.eof("in a number")
			return false
		}
		if !isDigit(p.src[p.pos]) {
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" in a number: expected "+what)
			return false
		}
		for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
			p.pos++
		}
		return true
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if !digits("a digit") {
		return node{}
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if !digits("a digit after the decimal point") {
			return node{}
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if !digits("a digit in the exponent") {
			return node{}
		}
	}
	return node{kind: kindNumber, start: start, end: p.pos, str: string(p.src[start:p.pos])}
}

// string reads a JSON string starting at the opening quote and returns it
// unescaped; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func (p *parser) string() (string, bool) {
	start := p.pos
	p.pos++ // opening quote
	// Fast path: no escapes, plain ASCII or valid UTF-8.
	i := p.pos
	for i < len(p.src) {
		c := p.src[i]
		if c == '"' {
			s := p.src[p.pos:i]
			if utf8.Valid(s) {
				p.pos = i + 1
				return string(s), true
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			p.eof("inside a string that starts at offset " + strconv.Itoa(start))
			return "", false
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), true
		case c < 0x20:
			p.fail(p.pos, "invalid control character "+describeByte(c)+" in a string (escape it, e.g. \\n)")
			return "", false
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				p.eof("in a string escape")
				return "", false
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(utf8.RuneError)
					if p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
						save := p.pos
						p.pos += 2
						lo, ok := p.hex4()
						if !ok {
							return "", false
						}
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							p.pos = save
						}
					}
					r = r2
				}
				b.WriteRune(r)
			default:
				p.fail(p.pos-1, "invalid escape character "+describeByte(e)+" in a string")
				return "", false
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			p.pos += size
			b.WriteRune(r) // RuneError for invalid bytes
		}
	}
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		p.eof("in a \\u escape")
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.src[p.pos+i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			p.fail(p.pos+i, "invalid character "+describeByte(c)+" in a \\u escape")
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.pos += 4
	return r, true
}

func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.pos, "nesting deeper than "+strconv.Itoa(maxDepth)+" levels")
		return false
	}
	return true
}

func (p *parser) object() node {
	n := node{kind: kindObject, start: p.pos}
	if !p.enter() {
		return node{}
	}
	defer func() { p.depth-- }()
	p.pos++ // {
	p.skipWS()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		n.end = p.pos
		n.members = []member{}
		return n
	}
	for {
		p.skipWS()
		if p.pos >= len(p.src) {
			p.eof("inside an object (missing '}'?)")
			return node{}
		}
		if p.src[p.pos] != '"' {
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" looking for the beginning of an object key (a double-quoted string)")
			return node{}
		}
		keyOff := p.pos
		key, ok := p.string()
		if !ok {
			return node{}
		}
		p.skipWS()
		if p.pos >= len(p.src) {
			p.eof("after object key \"" + key + "\"")
			return node{}
		}
		if p.src[p.pos] != ':' {
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" after object key \""+key+"\": expected ':'")
			return node{}
		}
		p.pos++
		p.skipWS()
		p.path = append(p.path, pathSeg{key: key, index: -1})
		v := p.value()
		p.path = p.path[:len(p.path)-1]
		if p.err != nil {
			return node{}
		}
		n.members = append(n.members, member{key: key, keyOff: keyOff, val: v})
		p.skipWS()
		if p.pos >= len(p.src) {
			p.eof("inside an object (missing '}'?)")
			return node{}
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			n.end = p.pos
			return n
		default:
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" after object member \""+key+"\": expected ',' or '}'")
			return node{}
		}
	}
}

func (p *parser) array() node {
	n := node{kind: kindArray, start: p.pos}
	if !p.enter() {
		return node{}
	}
	defer func() { p.depth-- }()
	p.pos++ // [
	p.skipWS()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		n.end = p.pos
		n.elems = []node{}
		return n
	}
	for i := 0; ; i++ {
		p.skipWS()
		p.path = append(p.path, pathSeg{index: i})
		v := p.value()
		p.path = p.path[:len(p.path)-1]
		if p.err != nil {
			return node{}
		}
		n.elems = append(n.elems, v)
		p.skipWS()
		if p.pos >= len(p.src) {
			p.eof("inside an array (missing ']'?)")
			return node{}
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.end = p.pos
			return n
		default:
			p.fail(p.pos, "invalid character "+describeByte(p.src[p.pos])+" after array element: expected ',' or ']'")
			return node{}
		}
	}
}

// formatPath renders path segments as `apps[0].container.docker.image`;
// keys that are not plain identifiers are quoted: `labels["a.b"]`.
func formatPath(segs []pathSeg) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(pathStep(b.Len() == 0, s))
	}
	return b.String()
}

func pathStep(first bool, s pathSeg) string {
	if s.index >= 0 {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	if plainKey(s.key) {
		if first {
			return s.key
		}
		return "." + s.key
	}
	return "[" + strconv.Quote(s.key) + "]"
}

func joinKey(path, key string) string {
	if plainKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '-' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// lineCol converts a byte offset into a 1-based line and column (columns
// count characters, not bytes).
func lineCol(src []byte, off int) (int, int) {
	var li lineIndex
	return li.lineCol(src, off)
}

// lineIndex converts offsets to line/column in O(log n) after one scan of
// the source, so that reporting many issues stays linear.
type lineIndex struct {
	starts []int // offsets where lines start; nil until first use
}

func (li *lineIndex) lineCol(src []byte, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	if li.starts == nil {
		li.starts = append(make([]int, 0, 64), 0)
		for i, c := range src {
			if c == '\n' {
				li.starts = append(li.starts, i+1)
			}
		}
	}
	// The last line start <= off.
	lo, hi := 0, len(li.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, utf8.RuneCount(src[li.starts[lo]:off]) + 1
}
