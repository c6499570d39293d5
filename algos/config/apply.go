package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Apply sets the fields of the struct that cfg points to from node, a YAML
// mapping of its keys (or a document holding one), strictly: a nested
// mapping sets the keys of a nested struct ("sac: {alpha_lr: 1e-4}" is
// "sac.alpha_lr"), a scalar is set through Set with its text, and a
// sequence of scalars sets a list element by element ([256, 256]; [] is the
// empty list). Fields the mapping does not name keep their values.
//
// An unknown key, a key given twice, null, a mapping or a list where the
// field wants a scalar, a scalar where it wants a mapping, and a value the
// field cannot parse are errors. Each is one line starting with
// "source:line: " and naming the key and the value, such as
//
//	run.yaml:7: batch_size = "abc": want an integer (int): invalid syntax
//
// Aliases are followed; YAML's .inf, -.inf and .nan are read as the float
// values they stand for. On an error, the fields set before it keep their
// new values. Apply panics if cfg is not a pointer to a struct.
func Apply(cfg any, node *yaml.Node, source string) error {
	return ApplySection(cfg, node, source, "")
}

// ApplySection is Apply for a node that is the value of the key section in
// a larger document, such as the "sac" section of a run's config.yaml: the
// keys its errors name are section.key, as the user reads them in the file.
// The valid keys that an unknown key's error lists are those of cfg.
func ApplySection(cfg any, node *yaml.Node, source, section string) error {
	a := applier{cfg: cfg, root: structOf("Apply", cfg), source: source, section: section, seen: map[string]int{}}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil
		}
		node = node.Content[0]
	}
	if node.Kind == 0 {
		return nil // an empty document
	}
	node = resolveAlias(node)
	if node.Kind != yaml.MappingNode {
		if section == "" {
			return a.errorf(node, "want a mapping of keys, got %s", kindOf(node))
		}
		return a.errorf(node, "%s: want a mapping of its keys, got %s", section, kindOf(node))
	}
	return a.mapping(node, "")
}

// applier is the state of one Apply.
type applier struct {
	cfg     any
	root    reflect.Value
	source  string
	section string         // the key the applied node is the value of, or ""
	seen    map[string]int // the line each key was set at
}

// name is key as the user reads it: with the section in front.
func (a *applier) name(key string) string {
	switch {
	case a.section == "":
		return key
	case key == "":
		return a.section
	}
	return a.section + "." + key
}

func (a *applier) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", a.source, n.Line, fmt.Sprintf(format, args...))
}

// mapping applies the pairs of the mapping n, whose keys are below prefix
// ("" or a nested struct's key followed by a dot).
func (a *applier) mapping(n *yaml.Node, prefix string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			return a.errorf(k, "want a key name, got %s", kindOf(k))
		}
		key := prefix + k.Value
		field, ok := find(a.root, key)
		if !ok {
			return a.errorf(k, "unknown key %q (valid keys: %s)", a.name(key), strings.Join(Keys(a.cfg), ", "))
		}
		if isGroup(field) {
			if v.Kind != yaml.MappingNode {
				return a.errorf(v, "%s: want a mapping of its keys (%s), got %s", a.name(key), a.keysUnder(key), kindOf(v))
			}
			if err := a.mapping(v, key+"."); err != nil {
				return err
			}
			continue
		}
		if line, ok := a.seen[key]; ok {
			return a.errorf(k, "%s is set twice (first at line %d)", a.name(key), line)
		}
		a.seen[key] = k.Line
		if err := a.value(field, key, v); err != nil {
			return err
		}
	}
	return nil
}

// keysUnder lists the keys of the nested struct at key, for errors.
func (a *applier) keysUnder(key string) string {
	var keys []string
	for _, k := range Keys(a.cfg) {
		if strings.HasPrefix(k, key+".") {
			keys = append(keys, a.name(k))
		}
	}
	return strings.Join(keys, ", ")
}

// value sets field, whose key is key, from the node v.
func (a *applier) value(field reflect.Value, key string, v *yaml.Node) error {
	if v.Kind == yaml.SequenceNode && field.Kind() == reflect.Slice && !isTextUnmarshaler(field) {
		out := reflect.MakeSlice(field.Type(), len(v.Content), len(v.Content))
		for i, e := range v.Content {
			e = resolveAlias(e)
			elem := fmt.Sprintf("%s[%d]", a.name(key), i)
			if err := a.scalar(out.Index(i), elem, e); err != nil {
				return err
			}
		}
		field.Set(out)
		return nil
	}
	return a.scalar(field, a.name(key), v)
}

// scalar parses the scalar node v into field, whose name (for errors) is
// name.
func (a *applier) scalar(field reflect.Value, name string, v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		return a.errorf(v, "%s: want %s, got %s", name, describe(field.Type()), kindOf(v))
	}
	text := v.Value
	if k := field.Kind(); (k == reflect.Float32 || k == reflect.Float64) && v.ShortTag() == "!!float" {
		text = goFloat(text)
	}
	if err := parseInto(field, text); err != nil {
		return a.errorf(v, "%s = %s: %v", name, strconv.Quote(v.Value), err)
	}
	return nil
}

// goFloat rewrites YAML's names of the special floats, which the yaml
// package writes for ±Inf and NaN, as strconv.ParseFloat reads them.
func goFloat(s string) string {
	switch strings.ToLower(s) {
	case ".inf", "+.inf":
		return "+Inf"
	case "-.inf":
		return "-Inf"
	case ".nan":
		return "NaN"
	}
	return s
}

// resolveAlias follows n to the node it is an alias of, if it is one.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// kindOf names what n is, for errors.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null (no value)"
		}
		return "the scalar " + strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "nothing"
}
