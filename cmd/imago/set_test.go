package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestSetField(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		check      func(c fakeConfig) bool
	}{
		{"hidden", "256,256", func(c fakeConfig) bool { return reflect.DeepEqual(c.Hidden, []int{256, 256}) }},
		{"hidden", "32, 64 ,16", func(c fakeConfig) bool { return reflect.DeepEqual(c.Hidden, []int{32, 64, 16}) }},
		{"hidden", "", func(c fakeConfig) bool { return len(c.Hidden) == 0 }},
		{"lr", "1e-3", func(c fakeConfig) bool { return c.LR == 1e-3 }},
		{"gain", "0.1", func(c fakeConfig) bool { return c.Gain == float32(0.1) }},
		{"batch_size", "-7", func(c fakeConfig) bool { return c.Batch == -7 }},
		{"noisy", "true", func(c fakeConfig) bool { return c.Noisy }},
		{"name", "a b=c", func(c fakeConfig) bool { return c.Name == "a b=c" }},
		{"critic.tau", "0.01", func(c fakeConfig) bool { return c.Critic.Tau == 0.01 }},
	} {
		c := fakePreset("")
		if err := setField(&c, tc.key, tc.value); err != nil {
			t.Errorf("set %s=%s: %v", tc.key, tc.value, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("set %s=%s: got %+v", tc.key, tc.value, c)
		}
	}
}

func TestSetFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       []string // substrings of the error
	}{
		{"hiden", "1", []string{`unknown key "hiden"`, "hidden, lr, gain, batch_size, noisy, name, critic.tau, interrupt_after, fail"}},
		{"internal", "1", []string{`unknown key "internal"`}},
		{"critic", "1", []string{`unknown key "critic"`, "critic.tau"}},
		{"critic.tau.x", "1", []string{`unknown key "critic.tau.x"`}},
		{"lr.x", "1", []string{`unknown key "lr.x"`}},
		{"batch_size", "1.5", []string{"batch_size=1.5", "want an integer (int)", "invalid syntax"}},
		{"batch_size", "99999999999999999999", []string{"batch_size=", "out of range"}},
		{"lr", "fast", []string{"lr=fast", "want a number (float64)"}},
		{"gain", "1e39", []string{"gain=1e39", "out of range"}},
		{"noisy", "yes", []string{"noisy=yes", "want true or false"}},
		{"hidden", "256,x", []string{"hidden=256,x", `element 1 ("x")`, "want an integer"}},
	} {
		c := fakePreset("")
		err := setField(&c, tc.key, tc.value)
		if err == nil {
			t.Errorf("set %s=%s: no error", tc.key, tc.value)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("set %s=%s: error %q does not contain %q", tc.key, tc.value, err, w)
			}
		}
	}
}

func TestConfigKeysFollowYAML(t *testing.T) {
	got := configKeys(&fakeConfig{})
	want := []string{"hidden", "lr", "gain", "batch_size", "noisy", "name", "critic.tau", "interrupt_after", "fail", "episode_rows"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configKeys = %v, want %v", got, want)
	}
}

func TestSetValuesKeepCommas(t *testing.T) {
	_, _, err := run(t, "train", "--algo", "fake", "--env", fakeEnvID, "--set", "hidden=1,2", "--set", "lr=0", "--out", t.TempDir())
	// lr=0 fails validation, after hidden=1,2 parsed whole.
	if err == nil || !strings.Contains(err.Error(), "lr = 0") {
		t.Errorf("got %v, want fake's validation error", err)
	}
}
