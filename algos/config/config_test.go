package config

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// testConfig has a field of every kind Set handles.
type testConfig struct {
	Hidden   []int      `yaml:"hidden"`
	Decay    []float64  `yaml:"decay"`
	LR       float64    `yaml:"lr"`
	Gain     float32    `yaml:"gain"`
	Batch    int        `yaml:"batch_size"`
	Noisy    bool       `yaml:"noisy"`
	Name     string     `yaml:"name"`
	Critic   testCritic `yaml:"critic"`
	Level    level      `yaml:"level"`
	Untagged int
	Skipped  int `yaml:"-"`
	internal int // unexported: Set must not reach it
}

type testCritic struct {
	Tau    float64 `yaml:"tau"`
	Target struct {
		Every int `yaml:"every"`
	} `yaml:"target"`
}

// level parses itself from text, so it is set as a whole although it is a
// struct.
type level struct{ n int }

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		l.n = 1
	case "high":
		l.n = 2
	default:
		return errBadLevel
	}
	return nil
}

var errBadLevel = &levelError{}

type levelError struct{}

func (*levelError) Error() string { return "want low or high" }

func defaults() testConfig {
	c := testConfig{Hidden: []int{8, 8}, LR: 3e-4, Gain: 0.5, Batch: 4, Name: "test"}
	c.Critic.Tau = 0.005
	c.Critic.Target.Every = 1
	return c
}

var allKeys = []string{"hidden", "decay", "lr", "gain", "batch_size", "noisy", "name",
	"critic.tau", "critic.target.every", "level", "untagged"}

func TestKeys(t *testing.T) {
	if got := Keys(&testConfig{}); !reflect.DeepEqual(got, allKeys) {
		t.Errorf("Keys = %v, want %v", got, allKeys)
	}
}

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		check      func(c testConfig) bool
	}{
		{"hidden", "256,256", func(c testConfig) bool { return reflect.DeepEqual(c.Hidden, []int{256, 256}) }},
		{"hidden", "32, 64 ,16", func(c testConfig) bool { return reflect.DeepEqual(c.Hidden, []int{32, 64, 16}) }},
		{"hidden", "", func(c testConfig) bool { return c.Hidden != nil && len(c.Hidden) == 0 }},
		{"lr", "1e-3", func(c testConfig) bool { return c.LR == 1e-3 }},
		{"gain", "0.1", func(c testConfig) bool { return c.Gain == float32(0.1) }},
		{"batch_size", "-7", func(c testConfig) bool { return c.Batch == -7 }},
		{"noisy", "true", func(c testConfig) bool { return c.Noisy }},
		{"name", "a b=c", func(c testConfig) bool { return c.Name == "a b=c" }},
		{"critic.tau", "0.01", func(c testConfig) bool { return c.Critic.Tau == 0.01 }},
		{"critic.target.every", "2", func(c testConfig) bool { return c.Critic.Target.Every == 2 }},
		{"level", "high", func(c testConfig) bool { return c.Level.n == 2 }},
		{"untagged", "3", func(c testConfig) bool { return c.Untagged == 3 }},
	} {
		c := defaults()
		if err := Set(&c, tc.key, tc.value); err != nil {
			t.Errorf("Set %s=%s: %v", tc.key, tc.value, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("Set %s=%s: got %+v", tc.key, tc.value, c)
		}
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       []string // substrings of the error
	}{
		{"hiden", "1", []string{`unknown key "hiden"`, "(valid keys: " + strings.Join(allKeys, ", ") + ")"}},
		{"internal", "1", []string{`unknown key "internal"`}},
		{"skipped", "1", []string{`unknown key "skipped"`}},
		{"critic", "1", []string{`unknown key "critic"`, "critic.tau"}},
		{"critic.tau.x", "1", []string{`unknown key "critic.tau.x"`}},
		{"lr.x", "1", []string{`unknown key "lr.x"`}},
		{"batch_size", "1.5", []string{"batch_size=1.5: want an integer (int): invalid syntax"}},
		{"batch_size", "99999999999999999999", []string{"batch_size=99999999999999999999: want an integer (int): value out of range"}},
		{"lr", "fast", []string{"lr=fast: want a number (float64): invalid syntax"}},
		{"gain", "1e39", []string{"gain=1e39: want a number (float32): value out of range"}},
		{"noisy", "yes", []string{"noisy=yes: want true or false"}},
		{"hidden", "256,x", []string{`hidden=256,x: element 1 ("x"): want an integer (int): invalid syntax`}},
		{"level", "medium", []string{"level=medium: want low or high"}},
	} {
		c := defaults()
		err := Set(&c, tc.key, tc.value)
		if err == nil {
			t.Errorf("Set %s=%s: no error", tc.key, tc.value)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Set %s=%s: error %q does not contain %q", tc.key, tc.value, err, w)
			}
		}
	}
}

func TestSetPanicsOnNonStruct(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "config.Set: config.testConfig is not a non-nil pointer to a struct") {
			t.Errorf("recovered %v, want the panic naming the type", r)
		}
	}()
	Set(testConfig{}, "lr", "1")
}

func parse(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return &doc
}

func TestApply(t *testing.T) {
	text := `# a comment
hidden: [256, 256]
decay: []
lr: 1e-3
gain: .inf
batch_size: 64
noisy: true
name: "two words"
critic:
  tau: 0.01
  target: {every: 2}
level: low
untagged: 5
`
	c := defaults()
	if err := Apply(&c, parse(t, text), "run.yaml"); err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.Hidden = []int{256, 256}
	want.Decay = []float64{}
	want.LR = 1e-3
	want.Gain = float32(math.Inf(1))
	want.Batch = 64
	want.Noisy = true
	want.Name = "two words"
	want.Critic.Tau = 0.01
	want.Critic.Target.Every = 2
	want.Level = level{1}
	want.Untagged = 5
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Apply gave\n%+v\nwant\n%+v", c, want)
	}

	// Keys the mapping does not name keep their values; a dotted key is
	// the nested one; an alias is followed; an empty mapping or document
	// changes nothing.
	c = defaults()
	text = "base: &b {tau: 0.5}\n"
	root := parse(t, text+"critic: *b\ncritic.target.every: 3\nlr: -.inf\n")
	// Drop base, which is not a key of testConfig, after parsing the anchor.
	m := root.Content[0]
	m.Content = m.Content[2:]
	if err := Apply(&c, root, "x.yaml"); err != nil {
		t.Fatal(err)
	}
	if c.Critic.Tau != 0.5 || c.Critic.Target.Every != 3 || !math.IsInf(c.LR, -1) || c.Batch != 4 || !reflect.DeepEqual(c.Hidden, []int{8, 8}) {
		t.Errorf("Apply gave %+v", c)
	}
	for _, empty := range []string{"{}", "", "# only a comment\n"} {
		c = defaults()
		if err := Apply(&c, parse(t, empty), "x.yaml"); err != nil || !reflect.DeepEqual(c, defaults()) {
			t.Errorf("Apply %q: %v, %+v", empty, err, c)
		}
	}
	c = defaults()
	if err := Apply(&c, parse(t, "lr: .nan\n"), "x.yaml"); err != nil || !math.IsNaN(c.LR) {
		t.Errorf("Apply lr: .nan: %v, lr %v", err, c.LR)
	}
}

// TestApplyErrors is the table of bad YAML for a Config: every error is
// one line that starts with the source and the line and names the key and
// the value.
func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		text    string
		section string
		want    string // the whole error
	}{
		{"lr: 1\nbatch_size: abc\n", "", `run.yaml:2: batch_size = "abc": want an integer (int): invalid syntax`},
		{"batch_size: \"abc\"\n", "sac", `run.yaml:1: sac.batch_size = "abc": want an integer (int): invalid syntax`},
		{"batchsize: 1\n", "sac", `run.yaml:1: unknown key "sac.batchsize" (valid keys: ` + strings.Join(allKeys, ", ") + ")"},
		{"critic:\n  tua: 1\n", "", `run.yaml:2: unknown key "critic.tua" (valid keys: ` + strings.Join(allKeys, ", ") + ")"},
		{"lr.x: 1\n", "", `run.yaml:1: unknown key "lr.x" (valid keys: ` + strings.Join(allKeys, ", ") + ")"},
		{"internal: 1\n", "", `run.yaml:1: unknown key "internal" (valid keys: ` + strings.Join(allKeys, ", ") + ")"},
		{"batch_size: [1, 2]\n", "", `run.yaml:1: batch_size: want an integer (int), got a list`},
		{"batch_size: {a: 1}\n", "", `run.yaml:1: batch_size: want an integer (int), got a mapping`},
		{"batch_size:\n", "", `run.yaml:1: batch_size: want an integer (int), got null (no value)`},
		{"name: ~\n", "", `run.yaml:1: name: want a string, got null (no value)`},
		{"critic: 5\n", "sac", `run.yaml:1: sac.critic: want a mapping of its keys (sac.critic.tau, sac.critic.target.every), got the scalar "5"`},
		{"critic: [1]\n", "", `run.yaml:1: critic: want a mapping of its keys (critic.tau, critic.target.every), got a list`},
		{"hidden:\n  - 256\n  - x\n", "", `run.yaml:3: hidden[1] = "x": want an integer (int): invalid syntax`},
		{"hidden: [256, [1]]\n", "", `run.yaml:1: hidden[1]: want an integer (int), got a list`},
		{"hidden: [256, ~]\n", "", `run.yaml:1: hidden[1]: want an integer (int), got null (no value)`},
		{"hidden: {a: 1}\n", "", `run.yaml:1: hidden: want a list ([]int), got a mapping`},
		{"gain: 1e39\n", "", `run.yaml:1: gain = "1e39": want a number (float32): value out of range`},
		{"noisy: yes\n", "", `run.yaml:1: noisy = "yes": want true or false`},
		{"level: medium\n", "", `run.yaml:1: level = "medium": want low or high`},
		{"a: &m {x: 1}\nlr: *m\n", "", `run.yaml:1: unknown key "a" (valid keys: ` + strings.Join(allKeys, ", ") + ")"},
		{"lr: 1\nlr: 2\n", "", `run.yaml:2: lr is set twice (first at line 1)`},
		{"critic: {tau: 1}\ncritic.tau: 2\n", "", `run.yaml:2: critic.tau is set twice (first at line 1)`},
		{"[1, 2]\n", "", `run.yaml:1: want a mapping of keys, got a list`},
		{"5\n", "sac", `run.yaml:1: sac: want a mapping of its keys, got the scalar "5"`},
		{"? [a]\n: 1\n", "", `run.yaml:1: want a key name, got a list`},
		{"lr: \"1\\n2\"\n", "", `run.yaml:1: lr = "1\n2": want a number (float64): invalid syntax`},
	} {
		c := defaults()
		err := ApplySection(&c, parse(t, tc.text), "run.yaml", tc.section)
		if err == nil {
			t.Errorf("Apply %q: no error", tc.text)
			continue
		}
		if got := err.Error(); got != tc.want || strings.Contains(got, "\n") {
			t.Errorf("Apply %q:\n got %s\nwant %s", tc.text, got, tc.want)
		}
	}
}

// TestApplyAliasToMappingForScalar checks that an alias is resolved before
// its kind is checked: an alias of a mapping where a number is wanted is
// an error at the alias.
func TestApplyAliasToMappingForScalar(t *testing.T) {
	c := defaults()
	root := parse(t, "critic: &m {tau: 1}\nlr: *m\n")
	err := Apply(&c, root, "run.yaml")
	if want := `run.yaml:1: lr: want a number (float64), got a mapping`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestApplyRoundTrip encodes a Config with the yaml package, as a run's
// config.yaml does, and applies the text to a zero Config: it must come
// back the same, special floats and empty lists included.
func TestApplyRoundTrip(t *testing.T) {
	type plain struct {
		Hidden []int     `yaml:"hidden"`
		Decay  []float64 `yaml:"decay"`
		LR     float64   `yaml:"lr"`
		Gain   float32   `yaml:"gain"`
		Max    float64   `yaml:"max"`
		NaN    float64   `yaml:"nan"`
		Name   string    `yaml:"name"`
		Odd    string    `yaml:"odd"`
		Seed   int64     `yaml:"seed"`
		Critic struct {
			Tau float64 `yaml:"tau"`
		} `yaml:"critic"`
	}
	in := plain{Hidden: []int{256, 256}, Decay: []float64{}, LR: 1.0 / 3, Gain: 0.1, Max: math.Inf(1), NaN: math.NaN(),
		Name: "two words", Odd: "1e-3", Seed: -1 << 62}
	in.Critic.Tau = 5e-3
	text, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out plain
	if err := Apply(&out, parse(t, string(text)), "config.yaml"); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !math.IsNaN(out.NaN) {
		t.Errorf("nan came back as %v", out.NaN)
	}
	out.NaN, in.NaN = 0, 0
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip through\n%s\ngave %+v, want %+v", text, out, in)
	}
}

func (l level) MarshalText() ([]byte, error) {
	return []byte(map[int]string{1: "low", 2: "high"}[l.n]), nil
}

// TestGetReadsBackWithSet checks that Get writes every key's value as Set
// reads it.
func TestGetReadsBackWithSet(t *testing.T) {
	in := defaults()
	in.Decay = []float64{1.0 / 3, 5e-5}
	in.LR = math.Inf(-1)
	in.Gain = 0.1
	in.Name = "a b=c"
	in.Level = level{2}
	for _, key := range Keys(&in) {
		s, ok := Get(&in, key)
		if !ok {
			t.Fatalf("Get %s: not a key", key)
		}
		out := testConfig{}
		if err := Set(&out, key, s); err != nil {
			t.Errorf("Set %s=%s: %v", key, s, err)
		}
		if back, _ := Get(&out, key); back != s {
			t.Errorf("%s: Get gave %q, which Set reads back as %q", key, s, back)
		}
	}
	for key, want := range map[string]string{"hidden": "8,8", "decay": "0.3333333333333333,5e-05", "lr": "-Inf",
		"gain": "0.1", "noisy": "false", "name": "a b=c", "critic.tau": "0.005", "level": "high"} {
		if got, _ := Get(&in, key); got != want {
			t.Errorf("Get %s = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"critic", "nope", "internal"} {
		if _, ok := Get(&in, key); ok {
			t.Errorf("Get %s reports a key", key)
		}
	}
}
