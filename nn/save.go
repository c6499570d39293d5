package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imago-rl/imago/nn/safetensors"
)

// Save writes the values of every parameter of ps to path in the
// safetensors format, with meta as the file's metadata. Names must be
// unique across ps (Save panics otherwise: a network's parameter sets are
// fixed by its code). Each Params is downloaded in one call. The file is
// written atomically by safetensors.WriteFile: a temporary file in the same
// directory is written, synced and renamed over path, so path holds either
// the old file or the whole new one.
func Save(path string, meta map[string]string, ps ...*Params) error {
	var tensors []safetensors.Tensor
	seen := map[string]bool{}
	for _, p := range ps {
		host := make([]float32, p.Len())
		p.eng.Download(host, p.Data)
		for _, q := range p.list {
			if seen[q.Name] {
				panic(fmt.Sprintf("nn: Save: parameter %q appears in two parameter sets", q.Name))
			}
			seen[q.Name] = true
			tensors = append(tensors, safetensors.Tensor{
				Name:  q.Name,
				Shape: slices.Clone(q.Shape),
				Data:  host[q.Offset : q.Offset+q.Len() : q.Offset+q.Len()],
			})
		}
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("save parameters: %w", err)
	}
	return nil
}

// Load reads the safetensors file at path into ps and returns its metadata.
// The file must hold exactly the parameters of ps, by name, each with the
// parameter's shape; otherwise Load returns an error listing every missing,
// unexpected and misshapen tensor, and leaves ps unchanged. A corrupt file
// is an error too; Load never panics on the file's content. The padding
// between parameters in the flat buffer is written as zero.
func Load(path string, ps ...*Params) (map[string]string, error) {
	tensors, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load parameters: %w", err)
	}
	byName := make(map[string]safetensors.Tensor, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t
	}
	var problems []string
	want := map[string]bool{}
	hosts := make([][]float32, len(ps))
	for i, p := range ps {
		hosts[i] = make([]float32, p.Len())
		for _, q := range p.list {
			want[q.Name] = true
			t, ok := byName[q.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("missing %s %v", q.Name, q.Shape))
			case !slices.Equal(t.Shape, q.Shape) || len(t.Data) != q.Len():
				problems = append(problems, fmt.Sprintf("%s has shape %v, want %v", q.Name, t.Shape, q.Shape))
			default:
				copy(hosts[i][q.Offset:], t.Data)
			}
		}
	}
	for _, t := range tensors {
		if !want[t.Name] {
			problems = append(problems, fmt.Sprintf("unexpected %s %v", t.Name, t.Shape))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("load parameters %s: file does not match the network: %s", path, strings.Join(problems, "; "))
	}
	for i, p := range ps {
		p.eng.Upload(p.Data, hosts[i])
	}
	return meta, nil
}
