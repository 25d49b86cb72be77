// Package installer runs an unattended NixOS install: the impure half of
// nixvm create, and the sequence of it.
//
// Create is the whole create: the pure checks (install.Preflight), the
// retry of a VM whose install failed, getting and checking the installer
// ISO (*ISOError), vm.Create, whose lock it holds to the end, and Run.
// Run drives the install: it boots the installer with the seed drive made
// from the plan, types one command on the serial console, follows the
// install script's phase markers, waits for the power-off, boots the disk
// and waits until SSH answers. Every step is reported as an Event (and
// appended to the instance's events.jsonl); a failure is an *Error (or,
// when the command is interrupted, a *vm.InterruptedError), and the VM's
// state says the same.
//
// The decisions (configuration.nix, install.sh, the partition layout, the
// seed's files, the release checks) are in internal/install, which runs
// nothing; this package owns the processes, the console and the waits.
// The machine seam (realMachine is the VM) lets the tests drive it over a
// fake console. Errors name no flags, and an *Error or *ISOError ends with
// no advice on what to run next: internal/cli adds those. (The one line of
// an interrupted install still says how to start over or remove the VM:
// interrupts are printed by the CLI's generic exit mapping.)
package installer
