package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/store"
)

// version is set at link time (-ldflags "-X .../internal/cli.version=v1.2.3");
// otherwise the module version or VCS revision of the build is shown.
var version = ""

// VersionInfo is what nixvm version reports.
type VersionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // VCS commit, "-dirty" if modified
	Format   int    `json:"onDiskFormat"`       // instance directory format written
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() VersionInfo {
	v := VersionInfo{Version: version, Format: store.FormatVersion, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		var rev string
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
		v.Revision = rev
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print nixvm's version and the on-disk format of the VMs it writes",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v := buildVersion()
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		out := cmd.OutOrStdout()
		rev := ""
		if v.Revision != "" {
			rev = " " + v.Revision
		}
		fmt.Fprintf(out, "nixvm %s%s\n", v.Version, rev)
		fmt.Fprintf(out, "on-disk format: %d (VMs of a newer format are left alone)\n", v.Format)
		fmt.Fprintf(out, "built with %s for %s\n", v.Go, v.Platform)
		return nil
	}
	return cmd
}
