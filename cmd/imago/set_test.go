package main

import (
	"strings"
	"testing"
)

// The parsing of key=value is algos/config's (config.Set, tested there);
// these tests check what train adds around it.

func TestSetValuesKeepCommas(t *testing.T) {
	_, _, err := run(t, "train", "--algo", "fake", "--env", fakeEnvID, "--set", "hidden=1,2", "--set", "lr=0", "--out", t.TempDir())
	// lr=0 fails validation, after hidden=1,2 parsed whole.
	if err == nil || !strings.Contains(err.Error(), "lr = 0") {
		t.Errorf("got %v, want fake's validation error", err)
	}
}

func TestSetErrorsNameTheAlgorithm(t *testing.T) {
	_, _, err := run(t, "train", "--algo", "fake", "--env", fakeEnvID, "--set", "critic.tua=1", "--out", t.TempDir())
	want := `--set for fake: unknown key "critic.tua" (valid keys: hidden, lr, gain, batch_size, noisy, name, critic.tau, interrupt_after, fail, episode_rows)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
