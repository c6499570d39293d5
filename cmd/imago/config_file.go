package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// runFile is the file of `imago train --config FILE`, in the layout of a
// run's config.yaml: the top-level keys imago (the version that wrote it,
// informational), algo, engine, run (algos.RunConfig's keys) and one
// section named after the algorithm (its Config's keys), all optional.
// readRunFile checks its layout; the keys inside run and the section are
// checked when resolve applies them, which is also where a section is
// matched against the algorithm the run resolves to.
type runFile struct {
	path     string
	algo     *yaml.Node // the scalar of algo, or nil
	engine   *yaml.Node // the scalar of engine, or nil
	run      *yaml.Node // the run section, or nil where it is absent or empty
	sections []runFileSection
}

// runFileSection is a top-level key of a runFile named after an
// algorithm.
type runFileSection struct {
	name  string
	key   *yaml.Node
	value *yaml.Node // nil where the section is empty
}

// readRunFile reads and checks the layout of the configuration file path.
// Errors are one line naming the file and, where there is one, the line.
func readRunFile(path string) (*runFile, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	f := &runFile{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return f, nil // an empty file: every setting from the flags and defaults
	case err != nil:
		return nil, yamlError(path, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("%s:%d: a second YAML document; --config reads one", path, next.Line)
	case !errors.Is(err, io.EOF):
		return nil, yamlError(path, err)
	}

	root := deref(doc.Content[0])
	if isNull(root) {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping with the keys of a run's %s (%s), got %s",
			path, root.Line, configFile, strings.Join(runFileKeys(), ", "), describeNode(root))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: want a key name, got %s", path, k.Line, describeNode(k))
		}
		if line, ok := seen[k.Value]; ok {
			return nil, fmt.Errorf("%s:%d: %s is set twice (first at line %d)", path, k.Line, k.Value, line)
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "imago":
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: imago: want the version that wrote the file, got %s", path, v.Line, describeNode(v))
			}
		case "algo", "engine":
			if v.Kind != yaml.ScalarNode || isNull(v) || v.Value == "" {
				return nil, fmt.Errorf("%s:%d: %s: want a name, got %s", path, v.Line, k.Value, describeNode(v))
			}
			if k.Value == "algo" {
				f.algo = v
			} else {
				f.engine = v
			}
		case "run":
			if !isNull(v) {
				f.run = v
			}
		default:
			if _, err := lookupAlgorithm(k.Value); err != nil {
				return nil, fmt.Errorf("%s:%d: unknown key %q (valid keys: %s)", path, k.Line, k.Value, strings.Join(runFileKeys(), ", "))
			}
			s := runFileSection{name: k.Value, key: k}
			if !isNull(v) {
				s.value = v
			}
			f.sections = append(f.sections, s)
		}
	}
	return f, nil
}

// runFileKeys are the top-level keys of a runFile, for errors.
func runFileKeys() []string {
	return []string{"imago", "algo", "engine", "run", "and a section named after the algorithm (" + strings.Join(algorithmNames(), ", ") + ")"}
}

// at is "path:line" of n, for errors.
func (f *runFile) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", f.path, n.Line) }

// section returns the section named name, or nil.
func (f *runFile) section(name string) *runFileSection {
	if f == nil {
		return nil
	}
	for i := range f.sections {
		if f.sections[i].name == name {
			return &f.sections[i]
		}
	}
	return nil
}

// blame places an error of a Validate method ("batch_size = 0: must be
// positive") in the file: where its message starts with a key that the
// file's section (section, of which node is the value) set and that
// overridden does not report as set since, it returns the error as
// "path:line: section.key = ...". Otherwise it returns nil.
func (f *runFile) blame(err error, section string, node *yaml.Node, overridden func(key string) bool) error {
	if f == nil || node == nil {
		return nil
	}
	key, _, ok := strings.Cut(err.Error(), " = ")
	if !ok || overridden(key) {
		return nil
	}
	line, ok := keyLines(node)[key]
	if !ok {
		return nil
	}
	return fmt.Errorf("%s:%d: %s.%w", f.path, line, section, err)
}

// keyLines maps the dotted keys of the mapping n (which may be nil),
// nested mappings flattened, to the lines they are set on.
func keyLines(n *yaml.Node) map[string]int {
	lines := map[string]int{}
	if n == nil {
		return lines
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			if v.Kind == yaml.MappingNode {
				walk(v, prefix+k.Value+".")
				continue
			}
			lines[prefix+k.Value] = k.Line
		}
	}
	walk(deref(n), "")
	return lines
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describeNode names what n is, for errors.
func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null (no value)"
	case n.Kind == yaml.ScalarNode:
		return "the scalar " + strconv.Quote(n.Value)
	}
	return "nothing"
}

// yamlError rewrites an error of the yaml package, "yaml: line 3: did not
// find expected key", as "path:3: did not find expected key", on one line.
func yamlError(path string, err error) error {
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, m, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return fmt.Errorf("%s:%s: %s", path, n, m)
			}
		}
	}
	return fmt.Errorf("%s: %s", path, msg)
}
