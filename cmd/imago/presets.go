package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// presetsCommand is `imago presets` and `imago presets show ALGO/ENV`.
func presetsCommand() *cli.Command {
	return &cli.Command{
		Name:      "presets",
		Usage:     "list the per-environment presets of the algorithms, or show one",
		UsageText: "imago presets\n   imago presets show ALGO/ENV",
		Description: "An algorithm's preset for an environment is the change to its defaults that\n" +
			"imago train --algo ALGO --env ENV starts from. The presets ship inside the binary\n" +
			"as YAML, with comments saying where each value comes from; `imago presets`\n" +
			"lists them with the keys each changes, and `imago presets show ALGO/ENV` prints\n" +
			"one and the configuration it gives, as a run's config.yaml writes it.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("presets takes no arguments but the command show, got %q; run 'imago presets --help'", c.Args().First())
			}
			return listPresets(c.App.Writer)
		},
		Subcommands: []*cli.Command{{
			Name:      "show",
			Usage:     "print a preset as embedded, then the configuration it gives",
			UsageText: "imago presets show ALGO/ENV",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("presets show takes one ALGO/ENV, such as %s/%s, got %d arguments", defaultAlgorithm, defaultEnv, c.NArg())
				}
				return showPreset(c.App.Writer, c.Args().First())
			},
		}},
	}
}

// listPresets writes one line per algorithm and environment with a
// preset: the pair and the keys whose values the preset changes.
func listPresets(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tCHANGES")
	for _, a := range algorithms {
		if a.presetEnvs == nil {
			continue
		}
		defaults := a.config("") // no environment has the id "": the defaults
		for _, id := range a.presetEnvs() {
			var keys []string
			for _, kv := range changedKeys(defaults, a.config(id)) {
				k, _, _ := strings.Cut(kv, "=")
				keys = append(keys, k)
			}
			changes := strings.Join(keys, " ")
			if changes == "" {
				changes = "(none: the defaults, listed to say so)"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\n", a.name, id, changes)
		}
	}
	return tw.Flush()
}

// showPreset writes the preset name (ALGO/ENV) as its package embeds it,
// with its comments, then the algorithm's section of the config.yaml that
// `imago train --algo ALGO --env ENV` would write.
func showPreset(w io.Writer, name string) error {
	algoName, envID, ok := strings.Cut(name, "/")
	if !ok || algoName == "" || envID == "" {
		return fmt.Errorf("preset %q: want ALGO/ENV, such as %s/%s; imago presets lists them", name, defaultAlgorithm, defaultEnv)
	}
	a, err := lookupAlgorithm(algoName)
	if err != nil {
		return err
	}
	if a.presetEnvs == nil {
		var with []string
		for _, b := range algorithms {
			if b.presetEnvs != nil {
				with = append(with, b.name)
			}
		}
		return fmt.Errorf("%s has no presets: it trains with its defaults everywhere (algorithms with presets: %s)", a.name, strings.Join(with, ", "))
	}
	text, ok := a.presetYAML(envID)
	if !ok {
		return fmt.Errorf("%s has no preset for %q (presets of %s: %s); other environments train with its defaults",
			a.name, envID, a.name, strings.Join(a.presetEnvs(), ", "))
	}
	resolved, err := marshalSections("", []yamlSection{{a.name, a.config(envID), ""}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# The preset of %s for %s, as embedded in imago:\n\n%s\n"+
		"# The configuration it gives: the %s section of the config.yaml of\n"+
		"# imago train --algo %s --env %s\n\n%s",
		a.name, envID, text, a.name, a.name, shellQuote(envID), resolved)
	return err
}
