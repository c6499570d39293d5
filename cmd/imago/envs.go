package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/imago-rl/imago/env"
)

func envsCommand() *cli.Command {
	return &cli.Command{
		Name:  "envs",
		Usage: "list the environments imago can train on",
		Description: "Every environment is native Go. The classic-control tasks follow Gymnasium 1.x " +
			"step for step (ContinuousCartPole-v0 follows mbrl-lib's); pass an id to imago train --env.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("envs takes no arguments, got %q", c.Args().First())
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDESCRIPTION")
			for _, r := range env.List() {
				fmt.Fprintf(tw, "%s\t%s\n", r.ID, r.Description)
			}
			return tw.Flush()
		},
	}
}
