package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imago-rl/imago/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current encoder")

// exampleState is a small State with a tensor of each kind and a value of
// each kind.
func exampleState() *State {
	s := NewState()
	s.PutTensor("actor", []int{2, 3}, []float32{1, -2, 0.5, float32(math.Inf(1)), math.Float32frombits(0x7fc00123), -0})
	s.PutTensor("buffer.obs", []int{4, 1}, []float32{0.25, 0.5, 0.75, 1})
	s.PutTensor("alpha", []int{}, []float32{0.2})
	if err := s.PutValue("counters", map[string]int{"step": 5, "updates": 3}); err != nil {
		panic(err)
	}
	s.PutFloats("obs_norm.mean", []float64{0.1, math.NaN(), math.Inf(-1)})
	s.PutRNG("rng", &engine.RNG{Seed: 42, Counter: 1 << 60})
	return s
}

var exampleMeta = Meta{Imago: "v0.0.0-test", Algo: "sac", Env: "Pendulum-v1", Step: 5, Time: "2025-01-02T03:04:05Z"}

// sameState fails t unless got holds exactly the tensors, bit for bit, and
// the values of want.
func sameState(t *testing.T, got, want *State) {
	t.Helper()
	gotT, gotV := got.Names()
	wantT, wantV := want.Names()
	if !slices.Equal(gotT, wantT) || !slices.Equal(gotV, wantV) {
		t.Fatalf("names %q, %q; want %q, %q", gotT, gotV, wantT, wantV)
	}
	for _, name := range wantT {
		w := want.tensors[name]
		g, err := got.Tensor(name, w.shape)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, name, g, w.data)
	}
	for _, name := range wantV {
		var g, w bytes.Buffer
		if err := json.Compact(&g, got.values[name]); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&w, want.values[name]); err != nil {
			t.Fatal(err)
		}
		if g.String() != w.String() {
			t.Errorf("value %q is %s, want %s", name, g.String(), w.String())
		}
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "checkpoints") // Save creates it
	s := exampleState()
	meta := exampleMeta
	meta.Time = ""
	path, err := Save(dir, meta, s, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "step-000000005.json"); path != want {
		t.Errorf("Save returned %s, want %s", path, want)
	}
	if files := listDir(t, dir); !slices.Equal(files, []string{"step-000000005.json", "step-000000005.safetensors"}) {
		t.Errorf("dir holds %q", files)
	}
	for _, step := range []int{-1, 5} {
		got, loaded, err := Load(dir, step, Meta{Algo: "sac", Env: "Pendulum-v1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339, got.Time); err != nil {
			t.Errorf("Time %q is not RFC 3339: %v", got.Time, err)
		}
		meta.Format, meta.Time = Format, got.Time
		if got != meta {
			t.Errorf("Load(%d) meta = %+v, want %+v", step, got, meta)
		}
		sameState(t, loaded, s)
	}
	// Empty want fields are not checked.
	if _, _, err := Load(dir, 5, Meta{}); err != nil {
		t.Error(err)
	}
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	if _, err := Save(dir, exampleMeta, exampleState(), 1); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden")
	for _, name := range []string{"step-000000005.json", "step-000000005.safetensors"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(filepath.Join(golden, name), got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(filepath.Join(golden, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Save wrote a %s that differs from testdata/golden (format %d must not drift; run with -update after a deliberate change, and bump Format if old files no longer load)", name, Format)
		}
	}
	// Whatever this version writes, the checkpoints of format 1 must load.
	meta, s, err := Load(golden, -1, Meta{Algo: "sac", Env: "Pendulum-v1"})
	if err != nil {
		t.Fatal(err)
	}
	want := exampleMeta
	want.Format = Format
	if meta != want {
		t.Errorf("golden meta = %+v, want %+v", meta, want)
	}
	sameState(t, s, exampleState())
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	jsonPath, err := Save(dir, exampleMeta, exampleState(), 1)
	if err != nil {
		t.Fatal(err)
	}
	stPath := filepath.Join(dir, "step-000000005.safetensors")
	good := map[string][]byte{jsonPath: readFile(t, jsonPath), stPath: readFile(t, stPath)}
	restore := func() {
		for p, b := range good {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// otherFormat is the JSON file as a later version might write it.
	otherFormat := func() []byte {
		var b body
		if err := json.Unmarshal(mustEnvelope(t, good[jsonPath])["body"], &b); err != nil {
			t.Fatal(err)
		}
		b.Meta.Format, b.Meta.Imago = 2, "v9.9.9"
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return seal(2, raw)
	}()

	for _, tc := range []struct {
		name   string
		change func() // to the files, undone after
		step   int
		want   Meta
		err    string
	}{
		{"algo", nil, -1, Meta{Algo: "mbpo", Env: "Pendulum-v1"}, "checkpoint " + jsonPath + " was written by algorithm sac, not mbpo"},
		{"env", nil, 5, Meta{Algo: "sac", Env: "Hopper-v4"}, "checkpoint " + jsonPath + " was written for environment Pendulum-v1, not Hopper-v4"},
		{"format", func() { putFile(t, jsonPath, otherFormat) }, -1, Meta{},
			"checkpoint " + jsonPath + " was written in checkpoint format 2 by imago v9.9.9; this version of imago reads format 1"},
		{"no step", nil, 7, Meta{}, "no checkpoint of step 7 in " + dir + " (it holds steps 5)"},
		{"empty json", func() { putFile(t, jsonPath, nil) }, -1, Meta{}, "checkpoint " + jsonPath + " is empty"},
		{"truncated json", func() { putFile(t, jsonPath, good[jsonPath][:100]) }, -1, Meta{}, "checkpoint " + jsonPath + " is truncated"},
		{"last byte", func() { putFile(t, jsonPath, bytes.TrimSuffix(good[jsonPath], []byte("\n"))) }, -1, Meta{}, "checkpoint " + jsonPath + " is truncated"},
		{"edited json", func() {
			putFile(t, jsonPath, bytes.Replace(good[jsonPath], []byte(`"updates": 3`), []byte(`"updates": 4`), 1))
		}, -1, Meta{}, "checkpoint " + jsonPath + " SHA-256 mismatch: corrupted"},
		{"not json", func() { putFile(t, jsonPath, []byte("step 5\n")) }, -1, Meta{},
			"checkpoint " + jsonPath + " is not a checkpoint's JSON (invalid character 's' looking for beginning of value): corrupted"},
		{"not a checkpoint", func() { putFile(t, jsonPath, []byte(`{"step": 5}`+"\n")) }, -1, Meta{},
			"checkpoint " + jsonPath + " has no format field: not an imago checkpoint, or corrupted"},
		{"renamed", func() {
			putFile(t, filepath.Join(dir, "step-000000006.json"), good[jsonPath])
		}, 6, Meta{}, "checkpoint " + filepath.Join(dir, "step-000000006.json") + " holds step 5: corrupted or renamed"},
		{"no tensors", func() { os.Remove(stPath) }, -1, Meta{}, "checkpoint " + stPath + " is missing"},
		{"truncated tensors", func() { putFile(t, stPath, good[stPath][:64]) }, -1, Meta{},
			fmt.Sprintf("checkpoint %s is truncated: 64 of %d bytes", stPath, len(good[stPath]))},
		{"longer tensors", func() { putFile(t, stPath, append(slices.Clone(good[stPath]), 0)) }, -1, Meta{},
			fmt.Sprintf("checkpoint %s has %d bytes, 1 more than the %d recorded: corrupted", stPath, len(good[stPath])+1, len(good[stPath]))},
		{"flipped tensors", func() {
			b := slices.Clone(good[stPath])
			b[len(b)-1] ^= 1
			putFile(t, stPath, b)
		}, -1, Meta{}, "checkpoint " + stPath + " SHA-256 mismatch: corrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer restore()
			defer os.Remove(filepath.Join(dir, "step-000000006.json"))
			if tc.change != nil {
				tc.change()
			}
			meta, s, err := Load(dir, tc.step, tc.want)
			wantErr(t, err, tc.err)
			if s != nil || meta != (Meta{}) {
				t.Errorf("Load failed but returned %+v, %v", meta, s)
			}
		})
	}

	for _, d := range []string{t.TempDir(), filepath.Join(dir, "missing")} {
		_, _, err := Load(d, -1, Meta{})
		wantErr(t, err, "no checkpoint in "+d)
	}

	// What the loaded State refuses.
	_, s, err := Load(dir, -1, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Tensor("critic", []int{2})
	wantErr(t, err, "checkpoint "+jsonPath+` has no tensor "critic"`)
	_, err = s.Tensor("actor", []int{3, 2})
	wantErr(t, err, "checkpoint "+jsonPath+`: tensor "actor" has shape [2 3], want [3 2]`)
	var counters struct{ Step int }
	wantErr(t, s.Value("counters", &counters), "checkpoint "+jsonPath+`: value "counters": json: unknown field "updates"`)
	wantErr(t, s.Value("epsilon", &counters), "checkpoint "+jsonPath+` has no value "epsilon"`)
}

func TestSaveArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		meta Meta
		keep int
		err  string
	}{
		{Meta{Step: 1}, 0, "save checkpoint: keep is 0; at least 1 checkpoint must be kept"},
		{Meta{Step: -1}, 1, "save checkpoint: step is -1; it must be 0 or more"},
		{Meta{Step: 1, Format: 2}, 1, "save checkpoint: format is 2; this version writes format 1 (or leave it 0)"},
	} {
		_, err := Save(dir, tc.meta, NewState(), tc.keep)
		wantErr(t, err, tc.err)
	}
	if files := listDir(t, dir); len(files) != 0 {
		t.Errorf("refused saves left %q", files)
	}
}

// TestFailedCommit fails the JSON write after its temporary file is
// written and synced, as a full disk or a crash would, and checks that the
// previous checkpoint is intact and nothing is left behind.
func TestFailedCommit(t *testing.T) {
	dir := t.TempDir()
	first := exampleState()
	if _, err := Save(dir, Meta{Algo: "sac", Step: 1000}, first, 2); err != nil {
		t.Fatal(err)
	}
	sawTemp := false
	testHookBeforeRename = func(tmp string) error {
		_, err := os.Stat(tmp)
		sawTemp = err == nil
		return errors.New("disk on fire")
	}
	second := exampleState()
	second.PutTensor("actor", []int{1}, []float32{9})
	_, err := Save(dir, Meta{Algo: "sac", Step: 2000}, second, 2)
	testHookBeforeRename = nil
	if err == nil || !strings.Contains(err.Error(), "step-000002000.json: disk on fire") {
		t.Fatalf("Save with a failing JSON write: %v", err)
	}
	if !sawTemp {
		t.Error("the hook did not find the temporary file written")
	}
	if files := listDir(t, dir); !slices.Equal(files, []string{"step-000001000.json", "step-000001000.safetensors"}) {
		t.Errorf("after the failed save, dir holds %q", files)
	}
	checkOnly(t, dir, 1000, first)
}

// TestCrashDebris leaves in a folder what a crash part way through a Save
// can leave, and checks that List and Load see only the previous
// checkpoint, intact, and that the next Save removes the debris.
func TestCrashDebris(t *testing.T) {
	dir := t.TempDir()
	first := exampleState()
	if _, err := Save(dir, Meta{Step: 1000}, first, 2); err != nil {
		t.Fatal(err)
	}
	// A second checkpoint, to take its files apart.
	tmp := t.TempDir()
	if _, err := Save(tmp, Meta{Step: 2000}, NewState(), 2); err != nil {
		t.Fatal(err)
	}
	st := readFile(t, filepath.Join(tmp, "step-000002000.safetensors"))
	js := readFile(t, filepath.Join(tmp, "step-000002000.json"))
	// The crash came while the JSON's temporary file was being written,
	// after the safetensors file was renamed into place; an earlier crash
	// of another save left a temporary safetensors file.
	putFile(t, filepath.Join(dir, "step-000002000.safetensors"), st)
	putFile(t, filepath.Join(dir, ".step-000002000.json.tmp-123456"), js[:len(js)/2])
	putFile(t, filepath.Join(dir, ".step-000003000.safetensors.tmp-987"), st[:10])
	checkOnly(t, dir, 1000, first)

	third := exampleState()
	if _, err := Save(dir, Meta{Step: 4000}, third, 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"step-000001000.json", "step-000001000.safetensors", "step-000004000.json", "step-000004000.safetensors"}
	if files := listDir(t, dir); !slices.Equal(files, want) {
		t.Errorf("after the next save, dir holds %q, want %q", files, want)
	}
}

// TestCorruptNewest garbles the newest checkpoint by hand: Load of the
// newest says so and names the older ones, which still load.
func TestCorruptNewest(t *testing.T) {
	dir := t.TempDir()
	first := exampleState()
	for _, step := range []int{1000, 2000} {
		if _, err := Save(dir, Meta{Step: step}, first, 2); err != nil {
			t.Fatal(err)
		}
	}
	stPath := filepath.Join(dir, "step-000002000.safetensors")
	b := readFile(t, stPath)
	putFile(t, stPath, b[:len(b)-4])
	_, _, err := Load(dir, -1, Meta{})
	wantErr(t, err, fmt.Sprintf("checkpoint %s is truncated: %d of %d bytes (older checkpoints in %s: steps 1000)", stPath, len(b)-4, len(b), dir))
	if _, s, err := Load(dir, 1000, Meta{}); err != nil {
		t.Error(err)
	} else {
		sameState(t, s, first)
	}
	// A checkpoint of another algorithm is not damaged: no older ones are
	// suggested.
	_, _, err = Load(dir, -1, Meta{Algo: "sac"})
	wantErr(t, err, fmt.Sprintf(`checkpoint %s was written by algorithm "", not sac`, filepath.Join(dir, "step-000002000.json")))
}

// checkOnly checks that dir's only complete checkpoint is step, holding want.
func checkOnly(t *testing.T, dir string, step int, want *State) {
	t.Helper()
	steps, err := List(dir)
	if err != nil || !slices.Equal(steps, []int{step}) {
		t.Fatalf("List = %v, %v; want [%d]", steps, err, step)
	}
	meta, s, err := Load(dir, -1, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Step != step {
		t.Errorf("Load gave step %d, want %d", meta.Step, step)
	}
	sameState(t, s, want)
}

func TestKeep(t *testing.T) {
	dir := t.TempDir()
	for i, step := range []int{1000, 2000, 3000, 4000} {
		s := NewState()
		s.PutTensor("step", nil, []float32{float32(step)})
		if _, err := Save(dir, Meta{Step: step}, s, 2); err != nil {
			t.Fatal(err)
		}
		steps, err := List(dir)
		want := []int{1000, 2000, 3000, 4000}[max(0, i-1) : i+1]
		if err != nil || !slices.Equal(steps, want) {
			t.Fatalf("after saving step %d with keep 2, List = %v, %v; want %v", step, steps, err, want)
		}
		if files := listDir(t, dir); len(files) != 2*len(want) {
			t.Errorf("after saving step %d, dir holds %q", step, files)
		}
	}

	// Saving a step again replaces it.
	s := NewState()
	s.PutTensor("step", nil, []float32{-1})
	if _, err := Save(dir, Meta{Step: 4000}, s, 2); err != nil {
		t.Fatal(err)
	}
	checkStep := func(step int, want float32) {
		t.Helper()
		_, got, err := Load(dir, step, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := got.Tensor("step", []int{}); err != nil || v[0] != want {
			t.Errorf("step %d holds %v, %v; want %v", step, v, err, want)
		}
	}
	checkStep(4000, -1)
	checkStep(3000, 3000)

	// keep 1 keeps only the checkpoint just written, even a lower step.
	if _, err := Save(dir, Meta{Step: 500}, s, 1); err != nil {
		t.Fatal(err)
	}
	if steps, err := List(dir); err != nil || !slices.Equal(steps, []int{500}) {
		t.Errorf("after saving step 500 with keep 1, List = %v, %v; want [500]", steps, err)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	if steps, err := List(filepath.Join(dir, "missing")); steps != nil || err != nil {
		t.Errorf("List of a missing folder = %v, %v; want nil, nil", steps, err)
	}
	for _, name := range []string{
		"step-000000005.json", "step-1000000000.json", // listed
		"step-5.json", "step-0000000007.json", "step--00000005.json", "step-+00000005.json",
		"step-000000008.safetensors", ".step-000000009.json.tmp-1", "step-000000010.json.bak", "notes.txt",
	} {
		putFile(t, filepath.Join(dir, name), nil)
	}
	if err := os.Mkdir(filepath.Join(dir, "step-000000011.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if steps, err := List(dir); err != nil || !slices.Equal(steps, []int{5, 1000000000}) {
		t.Errorf("List = %v, %v; want [5 1000000000]", steps, err)
	}
	if _, err := List(filepath.Join(dir, "notes.txt")); err == nil {
		t.Error("List of a file gave no error")
	}
}

// TestEveryCorruption truncates each file of a small checkpoint at every
// length and flips every bit of it, one at a time: loading it must return
// an error of one line starting "checkpoint ", and never panic or succeed.
// All of them go through the loader's checks in memory; one in 16 also
// goes through Load and the file system, which is slower.
func TestEveryCorruption(t *testing.T) {
	dir := t.TempDir()
	s := NewState()
	s.PutTensor("w", []int{2}, []float32{1, 2})
	if err := s.PutValue("n", 3); err != nil {
		t.Fatal(err)
	}
	jsonPath, err := Save(dir, Meta{Algo: "a", Env: "e", Step: 1}, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	stPath := filepath.Join(dir, "step-000000001.safetensors")
	goodJSON, goodST := readFile(t, jsonPath), readFile(t, stPath)
	want := Meta{Algo: "a", Env: "e"}
	rec, err := checkJSON(jsonPath, 1, goodJSON, want)
	if err != nil {
		t.Fatal(err)
	}

	kinds := map[string]int{} // the distinct complaints, for the log
	check := func(what string, err error) {
		t.Helper()
		switch {
		case err == nil:
			t.Fatalf("%s: loaded", what)
		case !strings.HasPrefix(err.Error(), "checkpoint ") || strings.ContainsAny(err.Error(), "\n\r"):
			t.Fatalf("%s: error %q is not one line starting \"checkpoint \"", what, err)
		}
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "checkpoint "+jsonPath), "checkpoint "+stPath)
		msg = strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return 'N'
			}
			return r
		}, msg)
		kinds[msg[:min(len(msg), 30)]]++
	}
	inMemory := map[string]func([]byte) error{
		"json": func(b []byte) error {
			_, err := checkJSON(jsonPath, 1, b, want)
			return oneLine(err)
		},
		"safetensors": func(b []byte) error {
			_, err := readTensors(stPath, bytes.NewReader(b), int64(len(b)), rec.Tensors)
			return oneLine(err)
		},
	}
	for _, f := range []struct {
		kind, path string
		good       []byte
	}{{"json", jsonPath, goodJSON}, {"safetensors", stPath, goodST}} {
		try := func(what string, b []byte, i int) {
			t.Helper()
			what = fmt.Sprintf("%s of the %s file", what, f.kind)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s: panic: %v", what, r)
					}
				}()
				check(what, inMemory[f.kind](b))
			}()
			if i%16 == 0 {
				putFile(t, f.path, b)
				_, _, err := Load(dir, 1, want)
				check(what+" through Load", err)
			}
		}
		for n := range len(f.good) {
			try(fmt.Sprintf("truncation to %d bytes", n), f.good[:n], n)
		}
		b := slices.Clone(f.good)
		for i := range b {
			for bit := range 8 {
				b[i] ^= 1 << bit
				try(fmt.Sprintf("flip of bit %d of byte %d", bit, i), b, i+bit)
				b[i] ^= 1 << bit
			}
		}
		putFile(t, f.path, f.good)
	}
	if _, _, err := Load(dir, 1, want); err != nil {
		t.Fatalf("the restored checkpoint does not load: %v", err)
	}
	t.Logf("complaints: %v", kinds)
}

// mustEnvelope decodes a JSON file's envelope.
func mustEnvelope(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	return env
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
