package engine_test

import (
	"strings"
	"testing"

	"github.com/imago-rl/imago/engine"
	_ "github.com/imago-rl/imago/engine/cpu"
)

func TestOpen(t *testing.T) {
	for _, name := range []string{"cpu", "auto"} {
		e, err := engine.Open(name)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		e.Close()
	}
	_, err := engine.Open("tpu")
	if err == nil || !strings.Contains(err.Error(), "cpu") || !strings.Contains(err.Error(), `"tpu"`) {
		t.Errorf("Open(\"tpu\") error = %v, want one naming the engine and listing cpu", err)
	}
}
