package traffic

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// decodeStatsFast decodes a GET /stats body without reflection: the
// Sampler decodes every instance's statistics every second, and
// encoding/json spends most of a gate's time there (BenchmarkGate). Route
// and platform names are interned through intern (may be nil), and the
// buckets of all series share one array. Any surprise (an escape in a
// string, a number it cannot read) is errSlowPath: the caller then uses
// encoding/json, whose errors and results are the reference.
func decodeStatsFast(data []byte, intern map[string]string) (InstanceStats, error) {
	d := statsDecoder{data: data, intern: intern}
	var st InstanceStats
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "instance":
			s, err := d.str()
			st.Instance = s
			return err
		case "version":
			v, err := d.int()
			st.Version = v
			return err
		case "bounds":
			st.Bounds = st.Bounds[:0]
			return d.array(func() error {
				f, err := d.float()
				st.Bounds = append(st.Bounds, f)
				return err
			})
		case "series":
			return d.series(&st)
		default:
			return d.skip()
		}
	})
	if err != nil {
		return InstanceStats{}, err
	}
	d.ws()
	if d.pos != len(d.data) {
		return InstanceStats{}, errSlowPath
	}
	return st, nil
}

var errSlowPath = errors.New("use encoding/json")

type statsDecoder struct {
	data   []byte
	pos    int
	intern map[string]string
	arena  []int64
}

func (d *statsDecoder) series(st *InstanceStats) error {
	if d.null() {
		return nil
	}
	// One allocation for the series and one for their buckets: the
	// number of '{' left is the number of series objects, or a little more
	// (names cannot hold braces; an unknown nested object would count).
	n, nb := bytes.Count(d.data[d.pos:], []byte{'{'}), len(st.Bounds)+1
	st.Series = make([]Series, 0, n)
	d.arena = make([]int64, 0, n*nb)
	return d.array(func() error {
		var s Series
		err := d.object(func(key []byte) error {
			var err error
			switch string(key) {
			case "route":
				s.Route, err = d.str()
			case "platform":
				s.Platform, err = d.str()
			case "requests":
				s.Requests, err = d.int()
			case "errors5xx":
				s.Errors5xx, err = d.int()
			case "sumSeconds":
				s.SumSeconds, err = d.float()
			case "buckets":
				if d.null() {
					return nil
				}
				start := len(d.arena)
				err = d.array(func() error {
					v, err := d.int()
					d.arena = append(d.arena, v)
					return err
				})
				s.Buckets = d.arena[start:len(d.arena):len(d.arena)]
			default:
				err = d.skip()
			}
			return err
		})
		st.Series = append(st.Series, s)
		return err
	})
}

func (d *statsDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *statsDecoder) peek() byte {
	d.ws()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *statsDecoder) null() bool {
	if d.peek() == 'n' && len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// object calls field for each key, positioned at its value.
func (d *statsDecoder) object(field func(key []byte) error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '{' {
		return errSlowPath
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		key, err := d.rawStr()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return errSlowPath
		}
		d.pos++
		d.ws()
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return errSlowPath
		}
	}
}

// array calls elem for each element, positioned at it.
func (d *statsDecoder) array(elem func() error) error {
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		return errSlowPath
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for {
		d.ws()
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return errSlowPath
		}
	}
}

// rawStr returns a string's bytes; strings with escapes take the slow path.
func (d *statsDecoder) rawStr() ([]byte, error) {
	if d.peek() != '"' {
		return nil, errSlowPath
	}
	start := d.pos + 1
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], nil
		case c == '\\' || c < 0x20:
			return nil, errSlowPath
		}
	}
	return nil, errSlowPath
}

func (d *statsDecoder) str() (string, error) {
	if d.null() {
		return "", nil
	}
	b, err := d.rawStr()
	if err != nil {
		return "", err
	}
	if s, ok := d.intern[string(b)]; ok { // no allocation for the lookup
		return s, nil
	}
	s := string(b)
	if d.intern != nil {
		d.intern[s] = s
	}
	return s, nil
}

func (d *statsDecoder) number() []byte {
	d.ws()
	start := d.pos
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.pos++
		default:
			return d.data[start:d.pos]
		}
	}
	return d.data[start:d.pos]
}

// int reads a counter; Lua may write a whole number as a float (1.5e+15).
func (d *statsDecoder) int() (int64, error) {
	if d.null() {
		return 0, nil
	}
	b := d.number()
	if len(b) == 0 {
		return 0, errSlowPath
	}
	var v int64
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		ok := true
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if ok {
			if neg {
				v = -v
			}
			return v, nil
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, errSlowPath
	}
	return int64(f), nil
}

func (d *statsDecoder) float() (float64, error) {
	if d.null() {
		return 0, nil
	}
	b := d.number()
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, errSlowPath
	}
	return f, nil
}

// skip skips one value of any kind.
func (d *statsDecoder) skip() error {
	switch d.peek() {
	case '"':
		for i := d.pos + 1; i < len(d.data); i++ {
			if d.data[i] == '\\' {
				i++
			} else if d.data[i] == '"' {
				d.pos = i + 1
				return nil
			}
		}
		return errSlowPath
	case '{':
		return d.object(func([]byte) error { return d.skip() })
	case '[':
		return d.array(d.skip)
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
				d.pos += len(lit)
				return nil
			}
		}
		return errSlowPath
	default:
		if len(d.number()) == 0 {
			return errSlowPath
		}
		return nil
	}
}
