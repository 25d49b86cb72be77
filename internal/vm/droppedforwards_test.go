package vm

import (
	"slices"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
)

func TestDroppedForwards(t *testing.T) {
	f := func(h, g int) spec.PortForward { return spec.PortForward{Host: h, Guest: g, Proto: "tcp"} }
	for _, tt := range []struct {
		src, dst []spec.PortForward
		want     []string
	}{
		{nil, nil, nil},
		{[]spec.PortForward{f(8080, 80), f(8443, 443)}, nil, []string{"8080:80", "8443:443"}},
		{[]spec.PortForward{f(8080, 80), f(8443, 443)}, []spec.PortForward{f(8080, 80)}, []string{"8443:443"}},
		{[]spec.PortForward{f(8080, 80)}, []spec.PortForward{f(9090, 80)}, []string{"8080:80"}},
		{nil, []spec.PortForward{f(9090, 80)}, nil},
	} {
		if got := droppedForwards(tt.src, tt.dst); !slices.Equal(got, tt.want) {
			t.Errorf("droppedForwards(%v, %v) = %q, want %q", tt.src, tt.dst, got, tt.want)
		}
	}
}
