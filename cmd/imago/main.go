// Command imago trains and evaluates model-based reinforcement learning
// agents and profiles the engines they run on.
//
// Usage:
//
//	imago engines            list the compute engines compiled into this binary
//
// Run `imago help` for the full list of commands and flags.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp(os.Stdout, os.Stderr).Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "imago:", err)
		os.Exit(1)
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "imago",
		Usage:     "model-based reinforcement learning on CPUs and NVIDIA GPUs",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			enginesCommand(),
			benchCommand(),
			envsCommand(),
			trainCommand(),
			plotCommand(),
			evalCommand(),
			presetsCommand(),
		},
		// An unknown command is an error with a non-zero exit, not a help page.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unknown command %q; run 'imago help' for the commands", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}
