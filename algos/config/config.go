// Package config sets the fields of an algorithm's Config by the keys under
// which the yaml package encodes them, the keys of a run's config.yaml:
// one key=value at a time (Set, for `imago train --set`, and Get, which
// writes a value as Set reads it), from a YAML mapping (Apply, for `imago
// train --config` and a run's config.yaml), and from the per-environment
// presets that each algorithm package embeds as YAML (Presets).
//
// A key is a field's yaml tag, or its lower-cased Go name where the tag
// gives none; a dotted key such as "sac.alpha_lr" reaches into a nested
// struct. Every error names the key, the value and what the field allows,
// on one line.
package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Set sets the field of the struct that cfg points to whose key is key to
// the value parsed from s. It handles integers, floats, bools, strings,
// slices of those written comma-separated ("256,256", "" for an empty
// list), and any type whose pointer implements encoding.TextUnmarshaler.
// Errors name the key and the value; an unknown key's error lists the
// valid ones (Keys). Set panics if cfg is not a pointer to a struct.
func Set(cfg any, key, s string) error {
	field, ok := leaf(structOf("Set", cfg), key)
	if !ok {
		return unknownKey(cfg, key)
	}
	if err := parseInto(field, s); err != nil {
		return fmt.Errorf("%s=%s: %w", key, s, err)
	}
	return nil
}

// Get returns the value of the field whose key is key in the struct cfg
// points to, written as Set reads it: Set(cfg, key, Get(cfg, key)) changes
// nothing, except that a nil list becomes an empty one. Floats are written
// in the shortest form that reads back the same; a list's elements are
// joined by commas. It reports false for a key that Set does not accept,
// and panics if cfg is not a pointer to a struct.
func Get(cfg any, key string) (string, bool) {
	field, ok := leaf(structOf("Get", cfg), key)
	if !ok {
		return "", false
	}
	return format(field), true
}

// format writes v as parseInto reads it.
func format(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		if b, err := m.MarshalText(); err == nil {
			return string(b)
		}
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.String:
		return v.String()
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// Keys lists the keys Set accepts for the struct cfg points to, in the
// order of the struct's fields, a nested struct's keys in place of its
// own. It panics if cfg is not a pointer to a struct.
func Keys(cfg any) []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			k, ok := yamlKey(t.Field(i))
			if !ok {
				continue
			}
			ft := t.Field(i).Type
			if isGroupType(ft) {
				walk(ft, prefix+k+".")
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk(structOf("Keys", cfg).Type(), "")
	return keys
}

// structOf returns the struct cfg points to, and panics, naming the
// caller, where cfg is anything else: that is a programming error.
func structOf(caller string, cfg any) reflect.Value {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config.%s: %T is not a non-nil pointer to a struct", caller, cfg))
	}
	return v.Elem()
}

func unknownKey(cfg any, key string) error {
	return fmt.Errorf("unknown key %q (valid keys: %s)", key, strings.Join(Keys(cfg), ", "))
}

// find returns the field of the struct v reached by the dotted key, which
// may be a nested struct (see isGroup).
func find(v reflect.Value, key string) (reflect.Value, bool) {
	name, rest, nested := strings.Cut(key, ".")
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		k, ok := yamlKey(t.Field(i))
		if !ok || k != name {
			continue
		}
		f := v.Field(i)
		if !nested {
			return f, true
		}
		if !isGroup(f) {
			return reflect.Value{}, false
		}
		return find(f, rest)
	}
	return reflect.Value{}, false
}

// leaf returns the field reached by key where it holds a value that Set
// can parse: a nested struct is set key by key, not as a whole, unless it
// parses itself from text.
func leaf(v reflect.Value, key string) (reflect.Value, bool) {
	f, ok := find(v, key)
	if !ok || isGroup(f) {
		return reflect.Value{}, false
	}
	return f, true
}

// isGroup reports whether f is a nested struct whose fields have keys of
// their own.
func isGroup(f reflect.Value) bool { return isGroupType(f.Type()) }

func isGroupType(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// yamlKey is the key under which the yaml package encodes field: its yaml
// tag's name, or its lower-cased Go name where the tag gives none.
// Unexported fields and fields tagged "-" have none.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name, true
	}
	return strings.ToLower(f.Name), true
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func isTextUnmarshaler(v reflect.Value) bool {
	return v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType)
}

// parseInto parses s as a value of v's type and stores it in v.
func parseInto(v reflect.Value, s string) error {
	if isTextUnmarshaler(v) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want %s: %w", describe(v.Type()), numError(err))
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want %s: %w", describe(v.Type()), numError(err))
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want %s: %w", describe(v.Type()), numError(err))
		}
		v.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want %s", describe(v.Type()))
		}
		v.SetBool(b)
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		var parts []string
		if s != "" {
			parts = strings.Split(s, ",")
		}
		out := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := parseInto(out.Index(i), strings.TrimSpace(p)); err != nil {
				return fmt.Errorf("element %d (%q): %w", i, p, err)
			}
		}
		v.Set(out)
	default:
		return fmt.Errorf("cannot set a field of type %s", v.Type())
	}
	return nil
}

// describe says what a value of type t is written as, for errors: "an
// integer (int)", "a list of numbers ([]float64)".
func describe(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "text that " + t.String() + " parses"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer (" + t.String() + ")"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer (" + t.String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number (" + t.String() + ")"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list (" + t.String() + ")"
	}
	return "a " + t.String()
}

// numError drops strconv's repetition of the function and input from its
// errors: "invalid syntax" or "value out of range" is what the user needs.
func numError(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
