package marathon

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// Literal returns an EnvValue holding a plain string.
func Literal(s string) EnvValue { return EnvValue{Value: s} }

// SecretEnv returns an EnvValue referring to the secret named name.
func SecretEnv(name string) EnvValue { return EnvValue{Secret: &SecretRef{Secret: name}} }

// IsSecret reports whether the variable refers to a secret.
func (e EnvValue) IsSecret() bool { return e.Secret != nil }

// MarshalJSON writes a string, or {"secret": "name"} for a secret reference.
func (e EnvValue) MarshalJSON() ([]byte, error) {
	if e.Secret != nil {
		return json.Marshal(e.Secret)
	}
	return json.Marshal(e.Value)
}

// UnmarshalJSON reads a string or a secret reference.
func (e *EnvValue) UnmarshalJSON(data []byte) error { return decodeInto(data, e) }

func (e *EnvValue) decodeNode(d *decoder, n *node) {
	switch n.kind {
	case kindString:
		*e = EnvValue{Value: n.str}
	case kindObject:
		ref := &SecretRef{}
		d.bindStruct(n, reflect.ValueOf(ref).Elem(), "")
		*e = EnvValue{Secret: ref}
	default:
		d.errorf(n, `expected a string or a secret reference {"secret": "name"}, got %s`, describe(n))
	}
}

// MarshalJSON writes "disabled" or the object form.
func (u UnreachableStrategy) MarshalJSON() ([]byte, error) {
	if u.Disabled {
		return []byte(`"disabled"`), nil
	}
	type plain UnreachableStrategy
	return marshalObject(plain(u), u.Unknown)
}

func (u *UnreachableStrategy) decodeNode(d *decoder, n *node) {
	switch n.kind {
	case kindString:
		if n.str != "disabled" {
			d.errorf(n, `expected "disabled" or an object {"inactiveAfterSeconds": N, "expungeAfterSeconds": M}, got %s`, describe(n))
			return
		}
		*u = UnreachableStrategy{Disabled: true}
	case kindObject:
		*u = UnreachableStrategy{}
		d.bindStruct(n, reflect.ValueOf(u).Elem(), "")
	default:
		d.errorf(n, `expected "disabled" or an object {"inactiveAfterSeconds": N, "expungeAfterSeconds": M}, got %s`, describe(n))
	}
}

// MarshalJSON writes "unlimited" or the number.
func (r ResourceLimit) MarshalJSON() ([]byte, error) {
	if r.Unlimited {
		return []byte(`"unlimited"`), nil
	}
	return json.Marshal(r.Value)
}

// UnmarshalJSON reads "unlimited" or a number.
func (r *ResourceLimit) UnmarshalJSON(data []byte) error { return decodeInto(data, r) }

func (r *ResourceLimit) decodeNode(d *decoder, n *node) {
	if n.kind == kindString && n.str == "unlimited" {
		*r = ResourceLimit{Unlimited: true}
		return
	}
	if n.kind == kindNumber {
		f, err := strconv.ParseFloat(n.str, 64)
		if err == nil {
			*r = ResourceLimit{Value: f}
			return
		}
	}
	d.errorf(n, `expected a number or "unlimited", got %s`, describe(n))
}
