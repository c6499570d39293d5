package main

import (
	"bytes"
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
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imago-rl/imago/algos"
	"github.com/imago-rl/imago/internal/atomicfile"
	"github.com/imago-rl/imago/internal/tensorboard"
)

// A run directory holds what `imago train` writes:
//
//	config.yaml                 the resolved configuration, written before training starts
//	metrics.csv                 one row per evaluation, flushed as it is recorded
//	events.out.tfevents.*       the same rows as TensorBoard scalars, with steps_per_second
//	checkpoints/step-N.{json,safetensors}  the newest checkpoints (algos/checkpoint)
//	curve.png                   the evaluation curve, drawn when training ends
const (
	configFile     = "config.yaml"
	metricsFile    = "metrics.csv"
	checkpointsDir = "checkpoints"
)

// defaultOutDir is where a run goes without --out:
// $IMAGO_RUNS_DIR/<algo>-<env>-<seed>-<timestamp>, with IMAGO_RUNS_DIR
// "runs" when unset.
func defaultOutDir(algo, envID string, seed int64, now time.Time) string {
	root := os.Getenv("IMAGO_RUNS_DIR")
	if root == "" {
		root = "runs"
	}
	name := fmt.Sprintf("%s-%s-%d-%s", algo, envID, seed, now.Format("20060102-150405"))
	// An environment id may hold a slash (a namespace); the run stays one
	// directory.
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, name)
	return filepath.Join(root, name)
}

// checkOutDir reports whether a run may be written to dir: it does not
// exist, or is an empty directory, or force is set and it is a directory.
// It creates nothing.
func checkOutDir(dir string, force bool) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--out %s exists and is not a directory", dir)
	}
	if force {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("--out %s exists and is not empty (holds %s); pass --force to write over its %s and %s",
			dir, entries[0].Name(), configFile, metricsFile)
	}
	return nil
}

// runRecord is a run's config.yaml: everything needed to repeat it.
type runRecord struct {
	Version         string // imago's version (main.version)
	Algo            string
	Engine          string // the engine that ran, after resolving auto
	EngineRequested string // the engine asked for (--engine, IMAGO_ENGINE or the --config file)
	Run             algos.RunConfig
	Config          any    // the algorithm's Config, after --config and --set
	Command         string // an imago train command line that repeats the run without the file
}

// marshal renders the record as YAML with the sections in a fixed order:
// the version, the algorithm, the engine, the run and the algorithm's own
// section named after it. Lists of numbers are written on one line.
func (r runRecord) marshal() ([]byte, error) {
	engineComment := ""
	if r.EngineRequested != r.Engine {
		engineComment = "resolved from " + r.EngineRequested
	}
	head := "The resolved configuration of an imago training run. Repeat it, into a\n" +
		"new run directory, with\n  imago train --config <this file>\n" +
		"or, with the presets of the same imago version, with\n  " + r.Command
	return marshalSections(head, []yamlSection{
		{"imago", r.Version, "imago version that wrote this run"},
		{"algo", r.Algo, ""},
		{"engine", r.Engine, engineComment},
		{"run", r.Run, ""},
		{r.Algo, r.Config, ""},
	})
}

// yamlSection is a top-level key of a YAML document, its value and a
// comment on the key's line.
type yamlSection struct {
	key     string
	v       any
	comment string
}

// marshalSections renders a YAML document of the sections in order, headed
// by the comment head (none where it is ""), as a run's config.yaml is
// written: two-space indents, lists of scalars on one line.
func marshalSections(head string, sections []yamlSection) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range sections {
		var n yaml.Node
		if err := n.Encode(s.v); err != nil {
			return nil, fmt.Errorf("encode %s: %w", s.key, err)
		}
		flowLists(&n)
		n.LineComment = s.comment
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.key}, &n)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: head, Content: []*yaml.Node{root}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// flowLists writes sequences of scalars in flow style, [256, 256], which
// reads better than a block list for layer widths.
func flowLists(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		flow := true
		for _, c := range n.Content {
			flow = flow && c.Kind == yaml.ScalarNode
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		flowLists(c)
	}
}

// metricsCSV writes metrics.csv: a header from the first row, then one line
// per row, each flushed to the file as it is written so that a crash or an
// interrupt loses no evaluation. The columns are env_steps, eval_return,
// eval_return_std and wall_seconds, then the algorithm's other names in the
// order it reports them. Values are formatted with strconv 'g' -1, the
// shortest text that reads back as the same float64, so the same run gives
// the same file apart from wall_seconds.
type metricsCSV struct {
	w     *csv.Writer
	names []string // the row names of the first row, as reported
	ret   int      // the index of eval_return in names
	std   int      // of eval_return_std
	wall  int      // of wall_seconds, or -1 where the algorithm does not report it
	rest  []int    // the indices of the other names, in order

	// resumed is the header of the file a resumed run appends to, which
	// the run's rows must match; nil for a new file. keep is the file's
	// content up to the resumed step, which replaces it at path before the
	// first row is appended (w is nil until then) to file.
	resumed []string
	path    string
	keep    []byte
	file    *os.File
}

// The columns every run's metrics.csv starts with.
var leadingColumns = []string{"env_steps", "eval_return", "eval_return_std", "wall_seconds"}

func newMetricsCSV(w io.Writer) *metricsCSV { return &metricsCSV{w: csv.NewWriter(w)} }

// write appends row. Its wall_seconds is the row's own where the algorithm
// reports one (its time since training started), else wallSeconds. The
// first row fixes the names; a later row with other names is an error, as
// is a row without eval_return or eval_return_std.
func (m *metricsCSV) write(row algos.Row, wallSeconds float64) error {
	if len(row.Names) != len(row.Values) {
		return fmt.Errorf("metrics row at %d steps has %d names and %d values", row.EnvSteps, len(row.Names), len(row.Values))
	}
	if m.names == nil {
		if err := m.writeHeader(row.Names); err != nil {
			return err
		}
	} else if !slices.Equal(row.Names, m.names) {
		return fmt.Errorf("metrics row at %d steps has columns %v, earlier rows %v", row.EnvSteps, row.Names, m.names)
	}
	if m.wall >= 0 {
		wallSeconds = row.Values[m.wall]
	}
	rec := make([]string, 0, len(leadingColumns)+len(m.rest))
	rec = append(rec,
		strconv.Itoa(row.EnvSteps),
		formatFloat(row.Values[m.ret]),
		formatFloat(row.Values[m.std]),
		strconv.FormatFloat(wallSeconds, 'f', 3, 64))
	for _, i := range m.rest {
		rec = append(rec, formatFloat(row.Values[i]))
	}
	return m.flush(rec)
}

func (m *metricsCSV) writeHeader(names []string) error {
	header, err := m.columns(names)
	if err != nil {
		return err
	}
	if m.resumed != nil {
		// The file has its header already: a resumed run must report the
		// same columns.
		if !slices.Equal(header, m.resumed) {
			return fmt.Errorf("%s has columns %v; the resumed run reports %v", metricsFile, m.resumed, header)
		}
		return nil
	}
	return m.flush(header)
}

// columns sets the indices of the leading columns in names, and returns
// the header of metrics.csv for rows of names.
func (m *metricsCSV) columns(names []string) ([]string, error) {
	m.ret, m.std, m.wall, m.rest = -1, -1, -1, nil
	header := slices.Clone(leadingColumns)
	for i, n := range names {
		switch n {
		case "eval_return":
			m.ret = i
		case "eval_return_std":
			m.std = i
		case "wall_seconds":
			m.wall = i
		case "env_steps":
			return nil, fmt.Errorf("metrics row names env_steps, which metrics.csv takes from Row.EnvSteps")
		default:
			m.rest = append(m.rest, i)
			header = append(header, n)
		}
	}
	if m.ret < 0 || m.std < 0 {
		return nil, fmt.Errorf("metrics row %v lacks eval_return or eval_return_std", names)
	}
	m.names = slices.Clone(names)
	return header, nil
}

// resumeMetrics prepares the metrics.csv at path for a run resumed after
// step: the returned metricsCSV expects the file's columns and, before it
// writes its first row, replaces the file atomically by its header and its
// rows up to step (the resumed run writes those after it again), then
// appends. A run that fails to resume before its first row leaves the
// file as it was. Close closes the file it opened.
func resumeMetrics(path string, step int) (*metricsCSV, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%s is empty: no header to resume with", path)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for i, rec := range records {
		if i > 0 {
			if n, err := strconv.Atoi(rec[0]); err != nil {
				return nil, fmt.Errorf("%s: line %d: env_steps %q is not an integer", path, i+1, rec[0])
			} else if n > step {
				break
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return &metricsCSV{resumed: records[0], path: path, keep: buf.Bytes()}, nil
}

// openResumed replaces a resumed run's metrics.csv by the rows it keeps and
// opens it for appending.
func (m *metricsCSV) openResumed() error {
	if err := atomicfile.WriteFile(m.path, func(f io.Writer) error { _, err := f.Write(m.keep); return err }, nil); err != nil {
		return err
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	m.file, m.w = f, csv.NewWriter(f)
	return nil
}

// Close closes the file a resumed run's metricsCSV opened, if any.
func (m *metricsCSV) Close() error {
	if m.file == nil {
		return nil
	}
	return m.file.Close()
}

func (m *metricsCSV) flush(rec []string) error {
	if m.w == nil {
		if err := m.openResumed(); err != nil {
			return fmt.Errorf("write %s: %w", metricsFile, err)
		}
	}
	if err := m.w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", metricsFile, err)
	}
	m.w.Flush()
	if err := m.w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", metricsFile, err)
	}
	return nil
}

// formatFloat is strconv's shortest round-trip form; NaN and ±Inf come out
// as NaN, +Inf and -Inf, which Python's float() and pandas read back.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// runReporter is the algos.Reporter of `imago train`: it writes each
// evaluation to metrics.csv and shows progress on stderr. It remembers the
// last evaluation for the summary line.
type runReporter struct {
	metrics  *metricsCSV
	events   *tensorboard.Writer // nil for none
	progress *progress
	now      func() time.Time
	start    time.Time

	evals     int       // rows written to metrics.csv
	last      algos.Row // the last row with an evaluation (a finite eval_return)
	lastWall  float64   // the wall time of the last row recorded
	lastSteps int       // and its environment steps
}

// writeEvents writes row's values but wall_seconds to the TensorBoard
// events as scalars of the row's step, with steps_per_second since the
// previous row.
func (r *runReporter) writeEvents(row algos.Row, wall float64) error {
	if r.events == nil {
		return nil
	}
	tags := make([]string, 0, len(row.Names)+1)
	values := make([]float64, 0, len(row.Names)+1)
	for i, n := range row.Names {
		if n != "wall_seconds" {
			tags = append(tags, n)
			values = append(values, row.Values[i])
		}
	}
	if dt := wall - r.lastWall; dt > 0 {
		tags = append(tags, "steps_per_second")
		values = append(values, float64(row.EnvSteps-r.lastSteps)/dt)
	}
	if err := r.events.Scalars(int64(row.EnvSteps), r.now(), tags, values); err != nil {
		return fmt.Errorf("tensorboard events: %w", err)
	}
	return nil
}

var _ algos.Reporter = (*runReporter)(nil)

func (r *runReporter) Progress(envSteps int) { r.progress.update(envSteps) }

func (r *runReporter) Record(row algos.Row) error {
	wall := r.now().Sub(r.start).Seconds()
	if err := r.metrics.write(row, wall); err != nil {
		return err
	}
	if err := r.writeEvents(row, wall); err != nil {
		return err
	}
	r.evals++
	r.lastWall = wall
	r.lastSteps = row.EnvSteps
	// Some loops also record rows between evaluations (mpc, one per
	// training episode), with eval_return NaN: they go to metrics.csv but
	// are not evaluations to show.
	if math.IsNaN(row.Get("eval_return")) {
		r.progress.update(row.EnvSteps)
		return nil
	}
	r.last = row
	r.progress.evaluated(row)
	return nil
}
