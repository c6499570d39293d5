package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu" // registers "cpu"
)

func enginesCommand() *cli.Command {
	return &cli.Command{
		Name:  "engines",
		Usage: "list the compute engines compiled into this binary and whether each can run here",
		Description: "Each engine is compiled in by a build tag (the CPU engine always; " +
			"cuda with -tags cuda). An engine that is compiled in may still be unable to run, " +
			"for example the CUDA engine on a machine without a GPU; the reason is printed.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("engines takes no arguments, got %q", c.Args().First())
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENGINE\tAVAILABLE\tDESCRIPTION")
			for _, b := range engine.Backends() {
				avail := "yes"
				if err := b.Available(); err != nil {
					avail = "no: " + err.Error()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, avail, b.Description)
			}
			return tw.Flush()
		},
	}
}
