package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Presets are an algorithm package's per-environment presets, by
// environment id: the changes, in the keys of the package's Config, that
// an environment gets on top of the defaults. The package embeds them as a
// YAML file (presets.yaml, beside its Config) whose comments say where each
// value comes from, and parses it with MustParsePresets. Presets are not
// to be modified after parsing; they are then safe for concurrent use.
type Presets map[string]*Preset

// Preset is one environment's preset.
type Preset struct {
	source string     // the file's name in errors, such as "algos/sac/presets.yaml"
	env    string     // the environment id
	line   int        // the line of its key
	node   *yaml.Node // the mapping of keys
	text   string     // as the file writes it, with its comments (see Text)
}

// ParsePresets parses text, the presets file named source: a mapping from
// environment ids to mappings of keys (an empty one, {}, for an environment
// whose preset is the defaults and is listed to say so). An id given twice
// or a value that is not a mapping is an error. Whether the keys inside
// name fields of the Config is checked when a preset is applied.
func ParsePresets(source string, text []byte) (Presets, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	ps := Presets{}
	if len(doc.Content) == 0 {
		return ps, nil // an empty file: no presets
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping from environment ids to presets, got %s", source, root.Line, kindOf(root))
	}
	lines := strings.Split(string(text), "\n")
	var keyLines []int
	for i := 0; i < len(root.Content); i += 2 {
		keyLines = append(keyLines, root.Content[i].Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolveAlias(root.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fmt.Errorf("%s:%d: want an environment id, got %s", source, k.Line, kindOf(k))
		}
		if p, ok := ps[k.Value]; ok {
			return nil, fmt.Errorf("%s:%d: environment %s has a preset already (line %d)", source, k.Line, k.Value, p.line)
		}
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: preset %s: want a mapping of keys ({} for none), got %s", source, v.Line, k.Value, kindOf(v))
		}
		next := len(lines) + 1
		if i/2+1 < len(keyLines) {
			next = keyLines[i/2+1]
		}
		ps[k.Value] = &Preset{source: source, env: k.Value, line: k.Line, node: v, text: entryText(lines, k.Line, next)}
	}
	return ps, nil
}

// MustParsePresets is ParsePresets for a file embedded in the program, for
// which an error is a programming error: it panics with the error.
func MustParsePresets(source string, text []byte) Presets {
	ps, err := ParsePresets(source, text)
	if err != nil {
		panic("config: embedded presets: " + err.Error())
	}
	return ps
}

// Envs returns the environment ids that have a preset, sorted.
func (ps Presets) Envs() []string {
	return slices.Sorted(maps.Keys(ps))
}

// MustApply applies envID's preset to the struct that cfg points to (see
// Apply); an environment without a preset changes nothing. The presets are
// embedded in the program, so a preset that does not apply (an unknown
// key, a value of the wrong type) is a programming error: MustApply panics
// with the file and line. Each algorithm package tests that all of its
// presets apply.
func (ps Presets) MustApply(cfg any, envID string) {
	p, ok := ps[envID]
	if !ok {
		return
	}
	if err := ApplySection(cfg, p.node, p.source, p.env); err != nil {
		panic("config: embedded preset: " + err.Error())
	}
}

// Text returns envID's preset as the file writes it, with its comments
// (see Preset.Text), and whether there is one.
func (ps Presets) Text(envID string) (string, bool) {
	p, ok := ps[envID]
	if !ok {
		return "", false
	}
	return p.text, true
}

// Text returns the preset as the file writes it: the environment's key and
// value, the comment lines just above it and, where it shares a paragraph
// (lines without a blank one between) with the environments before it,
// the comment that heads the paragraph, which such a group shares.
func (p *Preset) Text() string { return p.text }

// entryText is the text of the top-level entry whose key is on line (of
// lines, numbered from 1), which ends before line next (the next entry's
// key, or one past the end): see Preset.Text.
func entryText(lines []string, line, next int) string {
	at := func(i int) string { return lines[i-1] }
	// Comments at column 0 are top-level: they head an entry, or follow
	// one and belong to the next; an indented comment is inside an entry.
	isComment := func(i int) bool { return strings.HasPrefix(at(i), "#") }
	isBlank := func(i int) bool { return strings.TrimSpace(at(i)) == "" }

	end := next - 1
	for end > line && (isComment(end) || isBlank(end)) {
		end--
	}
	start := line
	for start > 1 && isComment(start-1) {
		start--
	}
	var out []string
	if start > 1 && !isBlank(start-1) {
		head := start - 1
		for head > 1 && !isBlank(head-1) {
			head--
		}
		for i := head; i < start && isComment(i); i++ {
			out = append(out, at(i))
		}
	}
	for i := start; i <= end; i++ {
		out = append(out, at(i))
	}
	return strings.Join(out, "\n") + "\n"
}
