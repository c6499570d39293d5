package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runEnvs runs `imago envs args...` in an app holding only the envs
// command, so the test does not depend on main's command list.
func runEnvs(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "imago", Writer: &out, ErrWriter: &errOut, Commands: []*cli.Command{envsCommand()}}
	err := app.Run(append([]string{"imago", "envs"}, args...))
	return out.String(), err
}

func TestEnvsListsClassicControl(t *testing.T) {
	out, err := runEnvs()
	if err != nil {
		t.Fatalf("imago envs: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); len(f) != 2 || f[0] != "ID" || f[1] != "DESCRIPTION" {
		t.Errorf("header %q, want ID and DESCRIPTION", lines[0])
	}
	descriptions := map[string]string{}
	for _, line := range lines[1:] {
		id, desc, _ := strings.Cut(line, " ")
		descriptions[id] = strings.TrimSpace(desc)
	}
	for _, id := range []string{"Pendulum-v1", "MountainCarContinuous-v0", "CartPole-v1", "Acrobot-v1", "ContinuousCartPole-v0"} {
		if descriptions[id] == "" {
			t.Errorf("imago envs does not list %s with a description:\n%s", id, out)
		}
	}
}

func TestEnvsRejectsArguments(t *testing.T) {
	if _, err := runEnvs("extra"); err == nil {
		t.Error("imago envs extra: no error")
	}
}
