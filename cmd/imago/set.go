package main

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// setValues is the value of the repeatable --set flag. It keeps each
// key=value whole: urfave/cli's slice flags split on commas, which would cut
// a list value such as hidden=256,256 in two.
type setValues []string

func (s *setValues) Set(v string) error { *s = append(*s, v); return nil }
func (s *setValues) String() string     { return strings.Join(*s, " ") }

// setField sets the field of the struct that cfg points to whose yaml key is
// key (a dotted path such as "actor.lr" reaches into nested structs) to the
// value parsed from s. It handles integers, floats, bools, strings, slices
// of those written comma-separated ("256,256"), and any type whose pointer
// implements encoding.TextUnmarshaler. Errors name the key; an unknown key's
// error lists the valid ones.
func setField(cfg any, key, s string) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("setField: %T is not a pointer to a struct", cfg))
	}
	field, ok := fieldByKey(v.Elem(), key)
	if !ok {
		return fmt.Errorf("unknown key %q (valid keys: %s)", key, strings.Join(configKeys(cfg), ", "))
	}
	if err := parseInto(field, s); err != nil {
		return fmt.Errorf("%s=%s: %w", key, s, err)
	}
	return nil
}

// fieldByKey finds the settable field reached by the dotted yaml path key.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	name, rest, nested := strings.Cut(key, ".")
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		k, ok := yamlKey(t.Field(i))
		if !ok || k != name {
			continue
		}
		f := v.Field(i)
		if !nested {
			// A nested struct is set key by key, not as a whole, unless
			// it parses itself from text.
			if f.Kind() == reflect.Struct && !isTextUnmarshaler(f) {
				return reflect.Value{}, false
			}
			return f, true
		}
		if f.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		return fieldByKey(f, rest)
	}
	return reflect.Value{}, false
}

// configKeys lists the keys --set accepts for the struct cfg points to, in
// the order of the struct's fields.
func configKeys(cfg any) []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			k, ok := yamlKey(t.Field(i))
			if !ok {
				continue
			}
			ft := t.Field(i).Type
			if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshalerType) {
				walk(ft, prefix+k+".")
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk(reflect.TypeOf(cfg).Elem(), "")
	return keys
}

// yamlKey is the key under which the yaml package encodes field: its yaml
// tag's name, or its lower-cased Go name where the tag gives none. Unexported
// fields and fields tagged "-" have none.
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
			return fmt.Errorf("want an integer (%s): %w", v.Type(), numError(err))
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a non-negative integer (%s): %w", v.Type(), numError(err))
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a number (%s): %w", v.Type(), numError(err))
		}
		v.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
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
		return fmt.Errorf("--set cannot set a field of type %s", v.Type())
	}
	return nil
}

// numError drops strconv's repetition of the function and input from its
// errors: "invalid syntax" or "value out of range" is what the user needs.
func numError(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
