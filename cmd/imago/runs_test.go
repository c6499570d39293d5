package main

import (
	"math"
	"strings"
	"testing"

	"github.com/imago-rl/imago/algos"
)

func TestMetricsCSV(t *testing.T) {
	var buf strings.Builder
	m := newMetricsCSV(&buf)
	names := []string{"train_return", "eval_return", "q_loss", "eval_return_std", "wall_seconds"}
	rows := []algos.Row{
		{EnvSteps: 1000, Names: names, Values: []float64{math.NaN(), -1234.5, math.Inf(1), 0.1, 12.34567}},
		{EnvSteps: 2000, Names: names, Values: []float64{-1e-7, 1.0 / 3, 2, 0, 25}},
	}
	for _, r := range rows {
		// The algorithm's own wall_seconds wins over the reporter's.
		if err := m.write(r, 99); err != nil {
			t.Fatal(err)
		}
	}
	want := "env_steps,eval_return,eval_return_std,wall_seconds,train_return,q_loss\n" +
		"1000,-1234.5,0.1,12.346,NaN,+Inf\n" +
		"2000,0.3333333333333333,0,25.000,-1e-07,2\n"
	if buf.String() != want {
		t.Errorf("metrics.csv:\n%s\nwant:\n%s", buf.String(), want)
	}

	// Without the algorithm's wall_seconds, the reporter's.
	buf.Reset()
	m = newMetricsCSV(&buf)
	if err := m.write(algos.Row{EnvSteps: 5, Names: []string{"eval_return_std", "eval_return"}, Values: []float64{1, 2}}, 0.5); err != nil {
		t.Fatal(err)
	}
	if want := "env_steps,eval_return,eval_return_std,wall_seconds\n5,2,1,0.500\n"; buf.String() != want {
		t.Errorf("metrics.csv:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestMetricsCSVErrors(t *testing.T) {
	ok := algos.Row{EnvSteps: 1, Names: []string{"eval_return", "eval_return_std"}, Values: []float64{0, 0}}
	for _, tc := range []struct {
		name string
		rows []algos.Row
		want string
	}{
		{"no return", []algos.Row{{Names: []string{"q_loss"}, Values: []float64{0}}}, "lacks eval_return"},
		{"env_steps", []algos.Row{{Names: []string{"eval_return", "eval_return_std", "env_steps"}, Values: []float64{0, 0, 0}}}, "env_steps"},
		{"lengths", []algos.Row{{Names: []string{"eval_return", "eval_return_std"}, Values: []float64{0}}}, "2 names and 1 values"},
		{"new names", []algos.Row{ok, {Names: []string{"eval_return_std", "eval_return"}, Values: []float64{0, 0}}}, "earlier rows"},
	} {
		m := newMetricsCSV(new(strings.Builder))
		var err error
		for _, r := range tc.rows {
			if err = m.write(r, 0); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"hidden=256,256": "hidden=256,256",
		"Pendulum-v1":    "Pendulum-v1",
		"name=a b":       "'name=a b'",
		"it's":           `'it'\''s'`,
		"":               "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
