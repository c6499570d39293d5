// Package rundir reads the run directories that `imago train` writes: the
// algorithm, environment and seed from config.yaml and the table of
// metrics.csv, for the commands that compare and draw runs.
//
// It reads only what it needs from config.yaml (algo, run.env, run.seed
// and the algorithm's own section) and ignores every other key, so that
// runs written by newer versions of imago, with more settings, still read.
package rundir

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The files of a run directory.
const (
	ConfigFile  = "config.yaml"
	MetricsFile = "metrics.csv"
)

// StepsColumn is the column of metrics.csv that every row has: the
// environment steps of training when the row was recorded.
const StepsColumn = "env_steps"

// Run is one training run as written to its directory.
type Run struct {
	Dir  string // the directory as given to Read
	Algo string // config.yaml's algo
	Env  string // config.yaml's run.env
	Seed int64  // config.yaml's run.seed

	// Settings is the algorithm's section of config.yaml (the one named
	// after Algo: its hyperparameters after --set), flattened: a nested
	// key is joined to its parent's with a dot (ddpg.hidden) and a list is
	// written in flow form ([256, 256]). It is empty where there is no
	// such section. Two runs with equal Settings differ only in seed and
	// run settings (steps, evaluation), so they are samples of one
	// experiment.
	Settings map[string]string

	// Columns is metrics.csv's header, in file order; it holds
	// StepsColumn.
	Columns []string
	// Rows holds metrics.csv's values, one row per line after the header
	// and one value per column, in Columns' order. Values may be NaN or
	// ±Inf: a row with eval_return NaN is not an evaluation (mpc records
	// one per training episode). Rows are in order of nondecreasing
	// env_steps.
	Rows [][]float64
}

// Read reads the run in dir. It returns an error naming the directory and
// what is wrong when config.yaml or metrics.csv is missing, config.yaml
// lacks algo, run.env or run.seed, metrics.csv has no header or no
// env_steps column, a line has the wrong number of fields or a field that
// is not a number, or env_steps is not a finite number that never
// decreases. A metrics.csv with a header and no rows is a run with no
// rows yet, not an error.
func Read(dir string) (*Run, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("run %s: no such directory", dir)
		}
		return nil, fmt.Errorf("run %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("run %s: not a directory", dir)
	}
	r := &Run{Dir: dir}
	if err := r.readConfig(); err != nil {
		return nil, err
	}
	if err := r.readMetrics(); err != nil {
		return nil, err
	}
	return r, nil
}

// config is the part of config.yaml that Read needs.
type config struct {
	Algo string `yaml:"algo"`
	Run  struct {
		Env  string `yaml:"env"`
		Seed *int64 `yaml:"seed"`
	} `yaml:"run"`
}

func (r *Run) readConfig() error {
	path := filepath.Join(r.Dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("run %s: no %s; a run directory holds the %s and %s that imago train writes",
				r.Dir, ConfigFile, ConfigFile, MetricsFile)
		}
		return fmt.Errorf("run %s: %w", r.Dir, err)
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	switch {
	case c.Algo == "":
		return fmt.Errorf("%s: no algo", path)
	case c.Run.Env == "":
		return fmt.Errorf("%s: no run.env", path)
	case c.Run.Seed == nil:
		return fmt.Errorf("%s: no run.seed", path)
	}
	r.Algo, r.Env, r.Seed = c.Algo, c.Run.Env, *c.Run.Seed

	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	r.Settings = map[string]string{}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			if top[i].Value == r.Algo && top[i+1].Kind == yaml.MappingNode {
				flatten(r.Settings, "", top[i+1])
			}
		}
	}
	return nil
}

// flatten adds the leaves of the mapping n to m, their keys prefixed.
func flatten(m map[string]string, prefix string, n *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := prefix+n.Content[i].Value, deref(n.Content[i+1])
		if v.Kind == yaml.MappingNode {
			flatten(m, k+".", v)
			continue
		}
		m[k] = flow(v)
	}
}

// flow writes a scalar as it is, a list as [a, b] and a mapping as
// {k: v}.
func flow(n *yaml.Node) string {
	n = deref(n)
	var parts []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			parts = append(parts, flow(c))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, flow(n.Content[i])+": "+flow(n.Content[i+1]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return n.Value
}

// deref follows a YAML alias (*name) to its anchor; an alias that does not
// resolve is taken as written.
func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func (r *Run) readMetrics() error {
	path := filepath.Join(r.Dir, MetricsFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("run %s: no %s; a run directory holds the %s and %s that imago train writes",
				r.Dir, MetricsFile, ConfigFile, MetricsFile)
		}
		return fmt.Errorf("run %s: %w", r.Dir, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty, not even a header", path)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	stepsAt := slices.Index(header, StepsColumn)
	if stepsAt < 0 {
		return fmt.Errorf("%s: header has no %s column: %s", path, StepsColumn, strings.Join(header, ","))
	}
	r.Columns = slices.Clone(header)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return fmt.Errorf("%s line %d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		row := make([]float64, len(rec))
		for i, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return fmt.Errorf("%s line %d: %s is %q, not a number", path, line, header[i], s)
			}
			row[i] = v
		}
		steps := row[stepsAt]
		if math.IsNaN(steps) || math.IsInf(steps, 0) {
			return fmt.Errorf("%s line %d: %s is %v; it must be a finite number", path, line, StepsColumn, steps)
		}
		if n := len(r.Rows); n > 0 && steps < r.Rows[n-1][stepsAt] {
			return fmt.Errorf("%s line %d: %s %v after %v; rows must be in order of %s",
				path, line, StepsColumn, steps, r.Rows[n-1][stepsAt], StepsColumn)
		}
		r.Rows = append(r.Rows, row)
	}
}

// Column returns the env_steps and the values of the named column of the
// rows where that value is not NaN, in file order: for eval_return, the
// evaluations. Rows with NaN are left out because a NaN means "not
// measured in this row" (mpc's per-episode rows have eval_return NaN).
// The steps are strictly increasing: two values of the column at the same
// env_steps are an error, as is a name that is not a column (the error
// lists the columns there are). The returned slices are new.
func (r *Run) Column(name string) (steps, values []float64, err error) {
	j := slices.Index(r.Columns, name)
	if j < 0 {
		return nil, nil, fmt.Errorf("run %s has no column %q; its columns are %s",
			r.Dir, name, strings.Join(r.Columns, ", "))
	}
	stepsAt := slices.Index(r.Columns, StepsColumn)
	for _, row := range r.Rows {
		v := row[j]
		if math.IsNaN(v) {
			continue
		}
		s := row[stepsAt]
		if n := len(steps); n > 0 && s == steps[n-1] {
			return nil, nil, fmt.Errorf("run %s has two values of %s at %s %v", r.Dir, name, StepsColumn, s)
		}
		steps = append(steps, s)
		values = append(values, v)
	}
	return steps, values, nil
}

// oneLine joins a multi-line message (yaml's errors list one problem a
// line) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
