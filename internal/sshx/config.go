package sshx

import (
	"fmt"
	"strings"
)

// Config renders the OpenSSH client config block for a VM, for `ssh -F`.
// The host key is checked strictly against the VM's own known_hosts under
// HostKeyAlias, only nixvm's key is offered, and password and keyboard
// prompts are off: a VM that does not take the key fails at once instead of
// asking for a password that does not exist.
func Config(name, user string, port int, identityFile, knownHosts string) string {
	alias := HostKeyAlias(name)
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "  %s %s\n", k, v) }
	fmt.Fprintf(&b, "Host %s\n", alias)
	line("HostName", "127.0.0.1")
	line("Port", fmt.Sprint(port))
	line("User", quote(user))
	line("IdentityFile", quote(escapeTokens(identityFile)))
	line("IdentitiesOnly", "yes")
	line("UserKnownHostsFile", quote(escapeTokens(knownHosts)))
	line("HostKeyAlias", alias)
	line("StrictHostKeyChecking", "yes")
	line("PasswordAuthentication", "no")
	line("KbdInteractiveAuthentication", "no")
	line("LogLevel", "ERROR")
	return b.String()
}

// escapeTokens protects '%' in a path: ssh expands %-tokens (%d, %h, ...) in
// IdentityFile and UserKnownHostsFile, and %% is a literal percent sign.
// ssh also expands ${VAR} there, with no escape at all: a path holding "${"
// cannot be written in an ssh_config (ssh then reports the bad variable).
func escapeTokens(path string) string { return strings.ReplaceAll(path, "%", "%%") }

// quote makes v a single ssh_config argument: unchanged when it holds no
// blanks, quotes, backslashes, '#' or '=' (a separator after the keyword),
// otherwise in double quotes with '"' and '\' escaped by a backslash
// (OpenSSH >= 8.7 splits config lines the way a shell does).
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"'\\#=") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}
