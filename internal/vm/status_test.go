package vm

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/store"
)

func TestProcessState(t *testing.T) {
	ready := store.State{Phase: store.PhaseReady}
	tests := []struct {
		name     string
		haveSpec bool
		st       store.State
		stErr    error
		pidfile  bool
		alive    bool
		want     string
	}{
		{"running", true, ready, nil, true, true, StateRunning},
		{"installer running", true, store.State{Phase: store.PhaseInstalling}, nil, true, true, StateInstalling},
		{"pidfile left by a killed QEMU", true, ready, nil, true, false, StateCrashed},
		{"stopped", true, ready, nil, false, false, StateStopped},
		{"install failed", true, store.State{Phase: store.PhaseFailed}, nil, false, false, StateFailed},
		{"install cut off", true, store.State{Phase: store.PhaseInstalling}, nil, false, false, StateIncomplete},
		{"create cut off", true, store.State{Phase: store.PhaseCreating}, nil, false, false, StateIncomplete},
		{"no spec", false, ready, nil, false, false, StateIncomplete},
		{"no state file", true, store.State{}, os.ErrNotExist, false, false, StateIncomplete},
		{"torn state file", true, store.State{}, errors.New("bad json"), false, false, StateIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := processState(tt.haveSpec, tt.st, tt.stErr, tt.pidfile, tt.alive); got != tt.want {
				t.Errorf("processState = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScaled(t *testing.T) {
	for _, tt := range []struct {
		accel string
		want  time.Duration
	}{{"kvm", 30 * time.Second}, {"hvf", 30 * time.Second}, {"tcg", 150 * time.Second}} {
		if got := Scaled(30*time.Second, host.Accel{Name: tt.accel}); got != tt.want {
			t.Errorf("Scaled(30s, %s) = %s, want %s", tt.accel, got, tt.want)
		}
	}
}
