package main

import "strings"

// setValues is the value of the repeatable --set flag. It keeps each
// key=value whole: urfave/cli's slice flags split on commas, which would cut
// a list value such as hidden=256,256 in two. Each is applied with
// config.Set, whose keys are those of config.yaml (config.Keys).
type setValues []string

func (s *setValues) Set(v string) error { *s = append(*s, v); return nil }
func (s *setValues) String() string     { return strings.Join(*s, " ") }
