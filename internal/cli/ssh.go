package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// sshUser is the guest user; a variable so command tests can log in to a
// real sshd on the host as the current user.
var sshUser = sshx.User

func newSSHCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ssh NAME [-- CMD...]",
		Short: "Log in to a running VM over SSH, or run a command there",
		Long: `Log in to a running VM over SSH with nixvm's key, checking the VM's own host key.

Without CMD, opens a shell. With CMD, runs it and exits with its exit code.
CMD is a list of arguments, each passed to the remote side unchanged; for
shell syntax (pipes, &&, variables) run a shell:
  nixvm ssh lab -- sh -c 'uname -a && df -h /'`,
		Args:              sshArgs,
		ValidArgsFunction: completeVMNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := store.Lookup(args[0])
			if err != nil {
				return err
			}
			info := vm.Status(in)
			if info.State != vm.StateRunning {
				return fmt.Errorf("VM %s is %s: start it first (nixvm start %s)", in.Name, info.State, in.Name)
			}
			cfg, err := vmSSHConfig(in, info)
			if err != nil {
				return err
			}
			cfgPath := sshx.ConfigPath(in)
			if err := store.WriteFileAtomic(cfgPath, []byte(cfg), 0o600); err != nil {
				return fmt.Errorf("write SSH config of VM %s: %w", in.Name, err)
			}
			sshBin, err := exec.LookPath("ssh")
			if err != nil {
				return fmt.Errorf("the ssh client is not installed: install OpenSSH's client (Debian/Ubuntu: apt install openssh-client), or run ssh elsewhere with: nixvm ssh-config %s", in.Name)
			}
			// A remote terminal only for a local one: with output
			// redirected, `nixvm ssh vm -- cat f > f` must copy bytes
			// exactly, without a terminal's CRLF line ends.
			stdin, stdout := cmd.InOrStdin(), cmd.OutOrStdout()
			tty := isTerminal(stdin) && isTerminal(stdout)
			c := exec.CommandContext(cmd.Context(), sshBin, sshArgv(cfgPath, in.Name, args[1:], tty)...)
			c.Stdin, c.Stdout, c.Stderr = stdin, stdout, cmd.ErrOrStderr()
			// On Ctrl-C or SIGTERM let ssh restore the terminal and
			// close the session itself rather than being killed.
			c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
			c.WaitDelay = 5 * time.Second
			err = c.Run()
			var ee *exec.ExitError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ee):
				// The remote command's status (ssh reports its own
				// failures itself, with status 255).
				return withCode(exitCode(ee), errors.New(""))
			default:
				return fmt.Errorf("run ssh: %w", err)
			}
		},
	}
}

func newSSHConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ssh-config NAME",
		Short: "Print an OpenSSH client config for a VM (for ssh -F, scp -F, rsync -e)",
		Long: `Print an OpenSSH client config block for a VM: its forwarded port, nixvm's key,
and the VM's own host key, checked strictly. Use it with any OpenSSH tool:
  ssh -F <(nixvm ssh-config lab) nixvm-lab
  nixvm ssh-config lab >> ~/.ssh/config; scp file nixvm-lab:

The port is the one of the running VM, or the VM's fixed --ssh-port when it
is stopped.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := store.Lookup(args[0])
			if err != nil {
				return err
			}
			info := vm.Status(in)
			if info.SSHPort == 0 {
				return fmt.Errorf("VM %s is %s and has no fixed SSH port: start it first (nixvm start %s), or give it one with --ssh-port", in.Name, info.State, in.Name)
			}
			cfg, err := vmSSHConfig(in, info)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), cfg)
			return err
		},
	}
}

// sshArgs checks NAME [-- CMD...]: a remote command must come after --, so
// its flags are never taken for nixvm's.
func sshArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	switch {
	case len(args) == 0 || dash == 0:
		return fmt.Errorf("missing VM name: nixvm ssh NAME [-- CMD...]")
	case dash == -1 && len(args) > 1, dash > 1:
		return fmt.Errorf("unexpected argument %q: put the remote command after -- (nixvm ssh %s -- CMD...)", args[1], args[0])
	}
	return nil
}

// vmSSHConfig renders the VM's ssh_config with the user's key (made on first
// use) and the VM's known host key.
func vmSSHConfig(in store.Instance, info vm.Info) (string, error) {
	if info.SSHPort == 0 {
		return "", fmt.Errorf("VM %s has no SSH port recorded: restart it (nixvm stop %s && nixvm start %s)", in.Name, in.Name, in.Name)
	}
	if _, err := sshx.ReadHostPub(in); err != nil {
		return "", fmt.Errorf("%w; connect yourself with: ssh -p %d USER@127.0.0.1", err, info.SSHPort)
	}
	key, _, err := sshx.UserKey()
	if err != nil {
		return "", err
	}
	return sshx.Config(in.Name, sshUser, info.SSHPort, key, sshx.KnownHostsPath(in)), nil
}

// sshArgv is the ssh command line (without the program) for a VM: the
// config file, a terminal only when there is one to pass through, the host
// alias, and the remote command quoted for the remote shell (ssh joins its
// arguments with blanks and hands them to the login shell).
func sshArgv(cfgPath, name string, cmdArgs []string, tty bool) []string {
	argv := []string{"-F", cfgPath}
	if tty {
		argv = append(argv, "-t")
	} else {
		argv = append(argv, "-T")
	}
	argv = append(argv, sshx.HostKeyAlias(name))
	if len(cmdArgs) > 0 {
		argv = append(argv, "--", shellJoin(cmdArgs))
	}
	return argv
}

// shellJoin quotes args for a POSIX shell so it sees exactly these words.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// exitCode is a process's exit status, or 128+signal as a shell reports it.
func exitCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
