package cli

import (
	"errors"
	"fmt"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/installer"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// This file is the one place that words what to do about an error as
// nixvm commands and flags. The packages below the CLI state the fact
// ("VM lab is running") and carry what a user can do in their types
// (vm.StateError, vm.StepError, vm.Next, ...); explain adds the flag the
// error is about and the command that helps.

// explain returns err's message as the user reads it: the fact, with the
// flag it is about and what to do next.
func explain(err error) string {
	var (
		ie *installer.ISOError
		nf *vm.ISONotFoundError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &ie) && ie.ISO != "" && ie.Op == installer.ISORelease:
		msg = "--iso " + msg // "--iso PATH is NixOS YY.MM: ..."
	case errors.As(err, &ie) && ie.ISO != "" && ie.Op != installer.ISOGet:
		msg = "--iso: " + msg
	case errors.As(err, &nf):
		msg = "--iso: " + msg
	}
	return msg + hint(err)
}

// hint returns what to do about err, worded as nixvm commands and led by
// its separator (" (", "; ", ": "), or "" when there is nothing to add.
func hint(err error) string {
	var (
		ie  *installer.ISOError
		fe  *installer.Error
		nf  *vm.ISONotFoundError
		se  *vm.StepError
		st  *vm.StateError
		ex  *vm.ExistsError
		pe  *vm.ProtectedError
		de  *vm.DependentsError
		nc  *vm.NotCachedError
		snf *store.NotFoundError
		re  *images.RefError
		hk  *sshx.NoHostKeyError
		me  *spec.InstallMemoryError
	)
	switch {
	case errors.As(err, &fe):
		h := ""
		if fe.Cleanup != nil {
			h = fmt.Sprintf(" (see nixvm status %s)", fe.Name)
		}
		return fmt.Sprintf("%s\nThe VM is kept in state failed with its logs (nixvm logs %s). Run nixvm create again to retry, or nixvm rm %s.", h, fe.Name, fe.Name)
	case errors.As(err, &ie):
		if ie.Op == installer.ISOGet {
			return " (offline? give a local ISO with --iso PATH)"
		}
		return ""
	case errors.As(err, &nf):
		if nf.Boot {
			return " (give the path of an ISO file)"
		}
		return " (give the path of a NixOS installer ISO, or a URL with --sha256)"
	case errors.As(err, &se):
		return stepHint(se.Step)
	case errors.As(err, &st):
		return stateHint(st)
	case errors.As(err, &ex):
		return fmt.Sprintf(" (remove it with: nixvm rm %s)", ex.Name)
	case errors.As(err, &pe):
		return fmt.Sprintf(" (make VMs from it: nixvm create NEW --from %s; or unprotect it: nixvm protect --off %s)", pe.Name, pe.Name)
	case errors.As(err, &de):
		return ": remove those first (or make one independent: nixvm clone --full CLONE NEW)"
	case errors.As(err, &nc):
		rel := nc.Release
		if rel == "" {
			rel = "stable"
		}
		return fmt.Sprintf(" (nixvm image pull %s first, or give --iso PATH)", rel)
	case errors.As(err, &snf):
		return " (see nixvm list)"
	case errors.As(err, &re):
		return " (see nixvm image list)"
	case errors.As(err, &hk):
		return ": VMs made with --manual are not set up for nixvm ssh"
	case errors.As(err, &me):
		return "; --manual allows less"
	}
	return ""
}

// stateHint words what to do about an operation refused in st's state.
func stateHint(st *vm.StateError) string {
	n := st.Name
	switch {
	case st.Op == "removed" && st.PID != 0:
		return fmt.Sprintf(": stop it first (nixvm stop %s) or use --force", n)
	case st.State == vm.StateRunning && st.Op != "started":
		return fmt.Sprintf("; stop it first (nixvm stop %s)", n)
	case st.State == vm.StateInstalling:
		return "; wait for nixvm create to finish"
	case (st.State == vm.StateFailed || st.State == vm.StateIncomplete) && st.Op != "cloned":
		return fmt.Sprintf("; remove it with: nixvm rm %s", n)
	}
	return ""
}

// stepHint words a vm.Step as the nixvm command that takes it.
func stepHint(s vm.Step) string {
	n, t := s.Name, s.Tag
	switch s.Next {
	case vm.NextRemove:
		return fmt.Sprintf("; remove it with: nixvm rm %s", n)
	case vm.NextStatus:
		return fmt.Sprintf(" (see nixvm status %s)", n)
	case vm.NextLogs:
		return fmt.Sprintf(" (see nixvm logs %s)", n)
	case vm.NextForceStop:
		return fmt.Sprintf("; nixvm stop --force %s quits it at once", n)
	case vm.NextRetryInstall:
		return fmt.Sprintf(" (nixvm create %s starts over, nixvm rm %s removes it)", n, n)
	case vm.NextSnapshotRm:
		return fmt.Sprintf("; nixvm snapshot rm %s %s removes it", n, t)
	case vm.NextSnapshotList:
		return fmt.Sprintf(" (nixvm snapshot list %s shows what is left)", n)
	case vm.NextSnapshotRestore:
		return fmt.Sprintf(": nixvm snapshot restore %s %s", n, t)
	case vm.NextPickTag:
		return fmt.Sprintf(": pick another TAG, or remove it first (nixvm snapshot rm %s %s)", n, t)
	case vm.NextSnapshotRAM:
		return ": snapshot it with its RAM state (without --disk-only), or stopped"
	case vm.NextRestoreOrForceStop:
		return fmt.Sprintf(": restore again, or stop it (nixvm stop --force %s)", n)
	case vm.NextForceStopThenRestore:
		return fmt.Sprintf(": nixvm stop --force %s, then restore again", n)
	case vm.NextStopThenRestore:
		return fmt.Sprintf(": run nixvm stop %s first", n)
	case vm.NextThaw:
		return fmt.Sprintf(" (nixvm agent %s guest-fsfreeze-thaw)", n)
	case vm.NextCloneWithoutSnapshots:
		return fmt.Sprintf("; remove them (nixvm snapshot rm %s TAG) or make a full copy (nixvm clone --full)", n)
	case vm.NextPullArch:
		return fmt.Sprintf(": use a %s ISO (nixvm image pull --arch %s)", t, t)
	case vm.NextStop:
		return fmt.Sprintf(" (stop it with: nixvm stop %s)", n)
	case vm.NextRecreate:
		return fmt.Sprintf(": re-create it with this nixvm (nixvm rm %s, then nixvm create %s) to clone it", n, n)
	case vm.NextRemoveSnapshots:
		return fmt.Sprintf("; remove them first (nixvm snapshot rm %s TAG)", n)
	}
	return ""
}
