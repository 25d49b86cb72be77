// Package installer runs an unattended NixOS install. It is the impure half
// of an install: Run boots the installer with the seed drive made from the
// plan, types one command on the serial console, follows the install
// script's phase markers, waits for the power-off, boots the disk and waits
// until SSH answers. Every step is reported as an Event (and appended to
// the instance's events.jsonl); a failure is an *Error (or, when the
// command is interrupted, a *vm.InterruptedError), and the VM's state says
// the same.
//
// The decisions (configuration.nix, install.sh, the partition layout, the
// seed's files, the release checks) are in internal/install, which runs
// nothing; this package owns the processes, the console and the waits.
// The machine seam (realMachine is the VM) lets the tests drive it over a
// fake console.
package installer
