package cli

import (
	"testing"

	"github.com/nixvm/nixvm/internal/vm"
)

// TestDisplayWhy: start says where its display came from, naming the flag
// (vm.ChooseDisplay only says which source won).
func TestDisplayWhy(t *testing.T) {
	tests := []struct {
		flag, remembered, spec string
		want                   string
	}{
		{"vnc", "sdl", "none", "--display"},
		{"", "sdl", "none", "remembered from an earlier nixvm start --display"},
		{"", "", "vnc", "the spec's display"},
		{"", "", "auto", "auto: no desktop, so the serial console"},
	}
	for _, tt := range tests {
		if got := displayWhy(vm.ChooseDisplay(tt.flag, tt.remembered, tt.spec, "none", false)); got != tt.want {
			t.Errorf("displayWhy(flag %q, remembered %q, spec %q) = %q, want %q", tt.flag, tt.remembered, tt.spec, got, tt.want)
		}
	}
}
