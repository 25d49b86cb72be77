package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/store"
)

// detectHost finds QEMU and firmware (without version probes: see
// host.Find). A variable so tests
// of commands can give fixed facts.
var detectHost = host.Find

// completeVMNames completes the first argument with the names of existing VMs.
func completeVMNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ins, _ := store.List()
	var names []string
	for _, in := range ins {
		if strings.HasPrefix(in.Name, toComplete) {
			names = append(names, in.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// lockVM looks up an existing VM and takes its lock for op.
func lockVM(name, op string) (store.Instance, *store.Lock, error) {
	in, err := store.Lookup(name)
	if err != nil {
		return in, nil, err
	}
	l, err := in.TryLock(op)
	return in, l, err
}

// logfTo returns a Logf that prints "nixvm: ..." lines to w.
func logfTo(w io.Writer) func(string, ...any) {
	return func(f string, a ...any) { fmt.Fprintf(w, "nixvm: "+f+"\n", a...) }
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
