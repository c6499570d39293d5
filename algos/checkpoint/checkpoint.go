// Package checkpoint saves and loads the whole state of a training run, so
// that an interrupted run resumes exactly where it stopped: network
// parameters, optimizer moments, normalisers, replay buffers, step counters,
// the random generators and the environments, as one State of named float32
// tensors and named JSON values.
//
// # Layout on disk
//
// The checkpoint taken after 5000 environment steps of a run is two files
// in the run's checkpoints folder:
//
//	step-000005000.safetensors  the tensors, sorted by name, in the safetensors format
//	step-000005000.json         the checkpoint's Meta, its values and the size and
//	                            SHA-256 of the .safetensors file
//
// the step written with at least nine digits. The safetensors file loads
// in PyTorch as any other (safetensors.torch.load_file). The JSON file is
// an envelope of three fields:
//
//	{
//	  "format": 1,
//	  "sha256": "<SHA-256 of the body's bytes as they are in the file, lowercase hex>",
//	  "body": {"meta": {...}, "tensors": {"file", "size", "sha256"}, "values": {...}}
//	}
//
// and a final newline. The body's checksum makes a JSON file that was
// corrupted, or edited by hand, an error on Load rather than a run resumed
// from different values.
//
// # Atomicity
//
// Save writes the safetensors file first and the JSON file second, each
// to a temporary file in the same folder that is synced and then renamed
// over the final name, and syncs the folder after the rename. The JSON
// file's presence is the commit point: List and Load see only checkpoints
// whose JSON file exists, and a JSON file appears whole or not at all, after
// its safetensors file is on disk. A crash at any moment of Save therefore
// leaves every earlier checkpoint intact and loadable; the debris it may
// leave (a temporary file, a safetensors file without its JSON) is ignored
// by List and Load and removed by the next Save.
//
// # What Load checks
//
// Load refuses, with one line that names the file and what is wrong, a
// checkpoint of another format version, algorithm or environment than the
// caller expects; a JSON file that is truncated, not the envelope above,
// or whose body does not match its checksum; a safetensors file that is
// missing, of another size than recorded, or whose SHA-256 differs from
// the recorded one. It never panics on the content of the files (FuzzLoad
// checks it). The State it returns then refuses, naming the file, a tensor
// or value that is missing or of another shape or type than the caller
// asks for.
//
// One process writes a run's checkpoints folder at a time.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imago-rl/imago/internal/atomicfile"
	"github.com/imago-rl/imago/nn/safetensors"
)

// Format is the version of the on-disk format that Save writes and Load
// reads; Load refuses any other.
const Format = 1

// Meta identifies a checkpoint. Load checks Algo, Env and Format against
// what the caller expects.
type Meta struct {
	Format int    `json:"format"`
	Imago  string `json:"imago"` // version of imago that wrote it (informational)
	Algo   string `json:"algo"`
	Env    string `json:"env"`
	Step   int    `json:"step"` // environment steps taken when it was written
	Time   string `json:"time"` // RFC 3339, informational
}

// body is what the JSON file's checksum covers.
type body struct {
	Meta    Meta                       `json:"meta"`
	Tensors tensorsFile                `json:"tensors"`
	Values  map[string]json.RawMessage `json:"values"`
}

// tensorsFile identifies the safetensors file that goes with a JSON file.
type tensorsFile struct {
	File   string `json:"file"` // its name, in the same folder
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// envelope's fields, the only ones a JSON file has.
var envelopeFields = []string{"format", "sha256", "body"}

func jsonName(step int) string    { return fmt.Sprintf("step-%09d.json", step) }
func tensorsName(step int) string { return fmt.Sprintf("step-%09d.safetensors", step) }

// parseName returns the step and extension (".json" or ".safetensors") of
// a checkpoint file's name, written as jsonName or tensorsName write it.
func parseName(name string) (step int, ext string, ok bool) {
	rest, found := strings.CutPrefix(name, "step-")
	if !found {
		return 0, "", false
	}
	for _, ext = range []string{".json", ".safetensors"} {
		digits, found := strings.CutSuffix(rest, ext)
		if !found {
			continue
		}
		step, err := strconv.Atoi(digits)
		if err != nil || step < 0 || fmt.Sprintf("%09d", step) != digits {
			return 0, "", false
		}
		return step, ext, true
	}
	return 0, "", false
}

// isTemp reports whether name is a temporary file of Save's or of
// safetensors.WriteFile's: "." + the final name + ".tmp-" + a random suffix.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".step-") && strings.Contains(name, ".tmp-")
}

// Save writes the checkpoint of meta.Step, holding s, into dir, creating
// dir if it is missing, and returns the path of its JSON file:
//
//	dir/step-000005000.safetensors  the tensors of s
//	dir/step-000005000.json         meta, the values of s, and the size and
//	                                SHA-256 of the .safetensors file
//
// Each is written atomically, the JSON file second; see the package comment.
// Save sets meta.Format to Format (a caller may leave it 0), and meta.Time
// to the current time if it is empty. A checkpoint of the same step already
// in dir is replaced: its JSON file is removed first, so a crash part way
// leaves no checkpoint of that step rather than a mixed one.
//
// Once the new checkpoint is committed, Save removes every complete
// checkpoint but the one just written and the keep−1 others of the highest
// steps (so, when steps only grow, the newest keep), then the debris of
// interrupted saves: temporary files and safetensors files without a JSON
// file. An error from that cleanup is returned with the path: the
// checkpoint is written.
//
// Save returns an error if keep < 1, meta.Step < 0 or meta.Format is
// neither 0 nor Format, or if a file cannot be written. s is only read.
func Save(dir string, meta Meta, s *State, keep int) (string, error) {
	switch {
	case keep < 1:
		return "", fmt.Errorf("save checkpoint: keep is %d; at least 1 checkpoint must be kept", keep)
	case meta.Step < 0:
		return "", fmt.Errorf("save checkpoint: step is %d; it must be 0 or more", meta.Step)
	case meta.Format != 0 && meta.Format != Format:
		return "", fmt.Errorf("save checkpoint: format is %d; this version writes format %d (or leave it 0)", meta.Format, Format)
	}
	meta.Format = Format
	if meta.Time == "" {
		meta.Time = time.Now().UTC().Format(time.RFC3339)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	jsonPath := filepath.Join(dir, jsonName(meta.Step))
	tensorsPath := filepath.Join(dir, tensorsName(meta.Step))
	if err := os.Remove(jsonPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("save checkpoint: replace the checkpoint of step %d: %w", meta.Step, err)
	}

	if err := safetensors.WriteFile(tensorsPath, s.sortedTensors(), nil); err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	size, sum, err := hashFile(tensorsPath)
	if err != nil {
		os.Remove(tensorsPath)
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	b := body{
		Meta:    meta,
		Tensors: tensorsFile{File: tensorsName(meta.Step), Size: size, SHA256: sum},
		Values:  s.values,
	}
	data, err := encode(b)
	if err != nil {
		os.Remove(tensorsPath)
		return "", fmt.Errorf("save checkpoint %s: %w", jsonPath, err)
	}
	if err := writeFile(jsonPath, data); err != nil {
		// Not committed: the safetensors file is debris already.
		os.Remove(tensorsPath)
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	if err := prune(dir, meta.Step, keep); err != nil {
		return jsonPath, fmt.Errorf("checkpoint %s is saved, but removing old ones failed: %w", jsonPath, err)
	}
	return jsonPath, nil
}

// encode returns the JSON file of b: the envelope around b's bytes.
func encode(b body) ([]byte, error) {
	if b.Values == nil {
		b.Values = map[string]json.RawMessage{}
	}
	raw, err := json.MarshalIndent(b, "  ", "  ")
	if err != nil {
		return nil, err
	}
	return seal(b.Meta.Format, raw), nil
}

// seal wraps the body bytes raw in the envelope, with format and raw's
// checksum.
func seal(format int, raw []byte) []byte {
	sum := sha256.Sum256(raw)
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"format\": %d,\n  \"sha256\": \"%x\",\n  \"body\": ", format, sum)
	out.Write(raw)
	out.WriteString("\n}\n")
	return out.Bytes()
}

// hashFile returns the size and SHA-256, in lowercase hex, of the file at
// path.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// testHookBeforeRename, when set by a test, runs in writeFile after the
// temporary file is written and synced and before it is renamed; an error
// from it fails the write there, as a crash or a full disk would.
var testHookBeforeRename func(tmp string) error

// writeFile writes data to path atomically (internal/atomicfile), with
// testHookBeforeRename.
func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, testHookBeforeRename)
}

// prune removes from dir the complete checkpoints but step's and the keep−1
// others of the highest steps, then temporary files and safetensors files
// without a JSON file. JSON files go first, so that a crash part way never
// leaves a JSON file whose safetensors file is gone.
func prune(dir string, step, keep int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	steps, err := List(dir)
	if err != nil {
		return err
	}
	kept := map[int]bool{step: true}
	for i := len(steps) - 1; i >= 0 && len(kept) < keep; i-- {
		kept[steps[i]] = true
	}
	var errs []error
	for _, e := range entries {
		if s, ext, ok := parseName(e.Name()); ok && ext == ".json" && !kept[s] && e.Type().IsRegular() {
			errs = append(errs, removeFile(filepath.Join(dir, e.Name())))
		}
	}
	for _, e := range entries {
		s, ext, ok := parseName(e.Name())
		if ((ok && ext == ".safetensors" && !kept[s]) || isTemp(e.Name())) && e.Type().IsRegular() {
			errs = append(errs, removeFile(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List returns the steps of the complete checkpoints in dir (those whose
// JSON file exists), ascending. A missing dir holds none: that is not an
// error.
func List(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var steps []int
	for _, e := range entries {
		if step, ext, ok := parseName(e.Name()); ok && ext == ".json" && e.Type().IsRegular() {
			steps = append(steps, step)
		}
	}
	slices.Sort(steps)
	return steps, nil
}

// Load reads the checkpoint of step from dir, or the newest one (the
// highest step) when step < 0, and returns its Meta and State.
//
// It checks the format version against Format, and want.Algo and want.Env
// when they are not empty against those the checkpoint was written for;
// the JSON file against its checksum; and the safetensors file against the
// size and SHA-256 the JSON file records. Every problem is an error of one
// line naming the file and what is wrong:
//
//	checkpoint runs/x/checkpoints/step-000005000.json was written by algorithm sac, not mbpo
//	checkpoint runs/x/checkpoints/step-000005000.json is truncated
//	checkpoint runs/x/checkpoints/step-000005000.safetensors SHA-256 mismatch: corrupted
//
// Load never panics on the content of the files.
func Load(dir string, step int, want Meta) (Meta, *State, error) {
	meta, s, err := load(dir, step, want)
	if err != nil {
		return Meta{}, nil, oneLine(err)
	}
	return meta, s, nil
}

func load(dir string, step int, want Meta) (Meta, *State, error) {
	steps, err := List(dir)
	if err != nil {
		return Meta{}, nil, err
	}
	if step < 0 {
		if len(steps) == 0 {
			return Meta{}, nil, fmt.Errorf("no checkpoint in %s", dir)
		}
		step = steps[len(steps)-1]
		meta, s, err := loadStep(dir, step, want)
		var ref *refusal
		if err != nil && len(steps) > 1 && !errors.As(err, &ref) {
			// The newest is damaged; an older one may be what the user wants.
			err = fmt.Errorf("%w (older checkpoints in %s: steps %s)", err, dir, joinInts(steps[:len(steps)-1]))
		}
		return meta, s, err
	}
	meta, s, err := loadStep(dir, step, want)
	if errors.Is(err, fs.ErrNotExist) {
		have := "none"
		if len(steps) > 0 {
			have = "steps " + joinInts(steps)
		}
		err = fmt.Errorf("no checkpoint of step %d in %s (it holds %s)", step, dir, have)
	}
	return meta, s, err
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func loadStep(dir string, step int, want Meta) (Meta, *State, error) {
	path := filepath.Join(dir, jsonName(step))
	data, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	b, err := checkJSON(path, step, data, want)
	if err != nil {
		return Meta{}, nil, err
	}
	tensorsPath := filepath.Join(dir, b.Tensors.File)
	f, err := os.Open(tensorsPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, nil, fmt.Errorf("checkpoint %s is missing", tensorsPath)
	}
	if err != nil {
		return Meta{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Meta{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Meta{}, nil, fmt.Errorf("checkpoint %s is not a regular file", tensorsPath)
	}
	tensors, err := readTensors(tensorsPath, f, fi.Size(), b.Tensors)
	if err != nil {
		return Meta{}, nil, err
	}
	return b.Meta, stateOf(path, b, tensors), nil
}

// stateOf returns the State of the checked JSON file at path, whose body is
// b, and of its tensors.
func stateOf(path string, b body, tensors []safetensors.Tensor) *State {
	s := NewState()
	s.src = path
	for _, t := range tensors {
		s.tensors[t.Name] = tensor{shape: t.Shape, data: t.Data}
	}
	for name, v := range b.Values {
		s.values[name] = v
	}
	return s
}

// checkJSON decodes the JSON file data of step, read from path, and checks
// it against want.
func checkJSON(path string, step int, data []byte, want Meta) (body, error) {
	b, err := decode(path, data)
	if err != nil {
		return body{}, err
	}
	m := b.Meta
	switch {
	case m.Step != step:
		return body{}, fmt.Errorf("checkpoint %s holds step %d: corrupted or renamed", path, m.Step)
	case want.Algo != "" && m.Algo != want.Algo:
		return body{}, refusef("checkpoint %s was written by algorithm %s, not %s", path, show(m.Algo), show(want.Algo))
	case want.Env != "" && m.Env != want.Env:
		return body{}, refusef("checkpoint %s was written for environment %s, not %s", path, show(m.Env), show(want.Env))
	case b.Tensors.File != tensorsName(step):
		return body{}, fmt.Errorf("checkpoint %s names tensors file %s, not %s: corrupted", path, show(b.Tensors.File), tensorsName(step))
	}
	return b, nil
}

// decode checks the JSON file data, read from path, and returns its body.
func decode(path string, data []byte) (body, error) {
	if len(data) == 0 {
		return body{}, fmt.Errorf("checkpoint %s is empty", path)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) && syntax.Offset >= int64(len(bytes.TrimRight(data, " \t\r\n"))) {
			return body{}, fmt.Errorf("checkpoint %s is truncated", path)
		}
		return body{}, fmt.Errorf("checkpoint %s is not a checkpoint's JSON (%v): corrupted", path, err)
	}
	if data[len(data)-1] != '\n' {
		// Save ends the file with a newline; only the last byte is missing.
		return body{}, fmt.Errorf("checkpoint %s is truncated", path)
	}
	rawFormat, ok := env["format"]
	if !ok {
		return body{}, fmt.Errorf("checkpoint %s has no format field: not an imago checkpoint, or corrupted", path)
	}
	var format int
	if err := json.Unmarshal(rawFormat, &format); err != nil {
		return body{}, fmt.Errorf("checkpoint %s has format %s, not an integer: corrupted", path, shorten(string(rawFormat)))
	}
	if format != Format {
		by := ""
		var peek struct {
			Body struct {
				Meta struct {
					Imago string `json:"imago"`
				} `json:"meta"`
			} `json:"body"`
		}
		if json.Unmarshal(data, &peek) == nil && peek.Body.Meta.Imago != "" {
			by = " by imago " + show(peek.Body.Meta.Imago)
		}
		return body{}, refusef("checkpoint %s was written in checkpoint format %d%s; this version of imago reads format %d", path, format, by, Format)
	}
	for _, k := range envelopeFields {
		if _, ok := env[k]; !ok {
			return body{}, fmt.Errorf("checkpoint %s has no %s field: corrupted", path, k)
		}
	}
	if len(env) != len(envelopeFields) {
		for _, k := range slices.Sorted(maps.Keys(env)) {
			if !slices.Contains(envelopeFields, k) {
				return body{}, fmt.Errorf("checkpoint %s has an unknown field %s: corrupted", path, strconv.Quote(k))
			}
		}
	}
	var sum string
	if err := json.Unmarshal(env["sha256"], &sum); err != nil {
		return body{}, fmt.Errorf("checkpoint %s has sha256 %s, not a string: corrupted", path, shorten(string(env["sha256"])))
	}
	got := sha256.Sum256(env["body"])
	// Compared as text, not decoded: a flipped bit that turns a hex digit
	// into its upper case must not pass.
	if sum != hex.EncodeToString(got[:]) {
		return body{}, fmt.Errorf("checkpoint %s SHA-256 mismatch: corrupted", path)
	}
	var b body
	dec := json.NewDecoder(bytes.NewReader(env["body"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return body{}, fmt.Errorf("checkpoint %s: body: %v", path, err)
	}
	if b.Meta.Format != format {
		return body{}, fmt.Errorf("checkpoint %s has format %d in its envelope and %d in its meta", path, format, b.Meta.Format)
	}
	return b, nil
}

// readTensors reads the safetensors file at path from r, which holds size
// bytes and must have the size and SHA-256 that rec records.
func readTensors(path string, r io.ReadSeeker, size int64, rec tensorsFile) ([]safetensors.Tensor, error) {
	switch {
	case size < rec.Size:
		return nil, fmt.Errorf("checkpoint %s is truncated: %d of %d bytes", path, size, rec.Size)
	case size > rec.Size:
		return nil, fmt.Errorf("checkpoint %s has %d bytes, %d more than the %d recorded: corrupted", path, size, size-rec.Size, rec.Size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != rec.SHA256 {
		return nil, fmt.Errorf("checkpoint %s SHA-256 mismatch: corrupted", path)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	tensors, _, err := safetensors.Read(r)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %v", path, err)
	}
	return tensors, nil
}

// refusal is the error of a whole checkpoint that is not the one the
// caller wants: of another algorithm, environment or format version.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refusef(format string, args ...any) error {
	return &refusal{fmt.Sprintf(format, args...)}
}

// show writes a name from a file in an error message: as it is when it is
// a plain word, quoted otherwise.
func show(s string) string {
	if s != "" && strconv.Quote(s) == `"`+s+`"` && !strings.ContainsAny(s, " \u00a0") {
		return s
	}
	return strconv.Quote(s)
}

// oneLine returns err with line breaks and other control characters in its
// message escaped, so that every error of Load is one line, whatever the
// files hold.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 }) {
		return err
	}
	q := strconv.Quote(msg)
	return &escapedError{msg: q[1 : len(q)-1], err: err}
}

// escapedError is an error whose message is its cause's, escaped.
type escapedError struct {
	msg string
	err error
}

func (e *escapedError) Error() string { return e.msg }
func (e *escapedError) Unwrap() error { return e.err }
