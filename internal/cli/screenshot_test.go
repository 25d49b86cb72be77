package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/qmp"
)

// QEMU's answers to screendump, as its ui/console.c and QAPI input visitor
// word them.
func TestScreendumpAnswers(t *testing.T) {
	generic := func(desc string) error { return &qmp.Error{Class: "GenericError", Desc: desc} }
	noDisplay := "VM lab has no display device to take a screenshot of (started headless); restart it with one: nixvm stop lab && nixvm start lab --display vnc"
	for _, tc := range []struct {
		name string
		err  error
		ppm  bool   // ask again for PPM
		msg  string // screendumpError's message
	}{
		{"QEMU 7.1+ without libpng", generic("Enable PNG support with libpng for screendump"), true,
			"screenshot of lab: QMP screendump: qmp error GenericError: Enable PNG support with libpng for screendump"},
		{"QEMU 6.x: no format argument", generic("Parameter 'format' is unexpected"), true,
			"screenshot of lab: QMP screendump: qmp error GenericError: Parameter 'format' is unexpected"},
		{"QEMU 7.0: no format argument", generic("Invalid parameter 'format'"), true,
			"screenshot of lab: QMP screendump: qmp error GenericError: Invalid parameter 'format'"},
		{"QEMU 7.2 without a display device", generic("There is no console to take a screendump from"), false, noDisplay},
		{"old QEMU without a display device", generic("There is no QemuConsole I can screendump from."), false, noDisplay},
		{"wrapped", fmt.Errorf("execute: %w", generic("There is no console to take a screendump from")), false, noDisplay},
		{"file error", generic("failed to open file '/x/.screendump-1': Permission denied"), false,
			"screenshot of lab: QMP screendump: qmp error GenericError: failed to open file '/x/.screendump-1': Permission denied"},
		{"connection lost", io.ErrUnexpectedEOF, false, "screenshot of lab: QMP screendump: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pngUnsupported(tc.err); got != tc.ppm {
				t.Errorf("pngUnsupported = %v, want %v", got, tc.ppm)
			}
			got := screendumpError("lab", tc.err)
			if got.Error() != tc.msg {
				t.Errorf("screendumpError =\n  %q\nwant\n  %q", got, tc.msg)
			}
			if strings.Contains(got.Error(), "\n") {
				t.Errorf("screendumpError is not one line: %q", got)
			}
			if !errors.Is(got, tc.err) && tc.msg != noDisplay {
				t.Errorf("screendumpError does not wrap %v", tc.err)
			}
		})
	}
	if pngUnsupported(nil) {
		t.Error("pngUnsupported(nil) = true")
	}
}
