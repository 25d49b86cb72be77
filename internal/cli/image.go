package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/store"
)

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Get, list, remove and inspect NixOS installer images",
		Long: `Installer ISOs are downloaded from the NixOS channels, verified against the
published SHA-256 and cached under $XDG_CACHE_HOME/nixvm/images, keyed by
digest. An interrupted download resumes where it stopped.`,
	}
	cmd.AddCommand(newImagePullCommand(), newImageListCommand(), newImageRmCommand(), newImageInspectCommand())
	return cmd
}

func newImagePullCommand() *cobra.Command {
	var arch, channelsURL, isoPath, sum string
	cmd := &cobra.Command{
		Use:   "pull [RELEASE]",
		Short: "Download and verify the minimal installer ISO of a release",
		Long: `Download the NixOS minimal installer ISO of RELEASE (a version such as 25.11,
"unstable", or "stable", the default: the newest stable release the channel
server lists) into the cache, verified. Prints the ISO's path.

With --iso PATH the local file is verified instead (against --sha256 when
given) and nothing is downloaded or cached; --iso URL downloads that ISO,
which then needs --sha256.`,
		Example: `  nixvm image pull
  nixvm image pull 25.11 --arch aarch64
  nixvm image pull --channels-url http://mirror.local/channels unstable
  nixvm image pull --iso ./nixos.iso --sha256 0123...`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			release := ""
			if len(args) == 1 {
				release = args[0]
			}
			sum = strings.ToLower(sum)
			if isoPath != "" && !isURL(isoPath) {
				if release != "" {
					return fmt.Errorf("give either RELEASE or --iso PATH, not both")
				}
				im, err := images.Import(ctx, isoPath, sum)
				if err != nil {
					return err
				}
				if sum == "" {
					fmt.Fprintf(errw, "%s: sha256 %s (not checked: no --sha256 given)\n", im.Path, im.SHA256)
				}
				fmt.Fprintln(out, im.Path)
				return nil
			}
			if err := images.ValidateRelease(release); err != nil {
				return err
			}
			if isoPath != "" && sum == "" {
				return fmt.Errorf("--iso %s: give --sha256 HEX to verify the download", isoPath)
			}
			im, err := images.Ensure(ctx, images.PullOptions{
				Release:     release,
				Arch:        arch,
				ChannelsURL: channelsURL,
				URL:         isoPath,
				SHA256:      sum,
				Progress:    newImageProgress(errw),
				Logf:        func(f string, a ...any) { fmt.Fprintf(errw, "nixvm: "+f+"\n", a...) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(errw, "%s: release %s, %s, %s, sha256 %s (verified)\n",
				im.Name, orDash(im.Release), im.Arch, images.HumanBytes(im.Size), im.SHA256)
			fmt.Fprintln(out, im.Path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", images.DefaultArch, "architecture: "+strings.Join(images.Arches, " or "))
	f.StringVar(&channelsURL, "channels-url", "", "channel server (default $"+images.ChannelsURLEnv+", else "+images.DefaultChannelsURL+")")
	f.StringVar(&isoPath, "iso", "", "use this local ISO file (or http(s) URL) instead of a channel's")
	f.StringVar(&sum, "sha256", "", "expected SHA-256 of the ISO (required with an --iso URL)")
	cmd.RegisterFlagCompletionFunc("arch", cobra.FixedCompletions(images.Arches, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagFilename("iso", "iso")
	return cmd
}

// imageListEntry is one row of `image list --json`.
type imageListEntry struct {
	ID string `json:"id"`
	images.Image
}

func newImageListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the verified images in the cache",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cache, err := store.CacheDir()
			if err != nil {
				return err
			}
			list, err := images.List(cache)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				rows := make([]imageListEntry, 0, len(list))
				for _, im := range list {
					rows = append(rows, imageListEntry{ID: im.ID(), Image: im})
				}
				return imageJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRELEASE\tARCH\tSIZE\tPULLED\tNAME")
			for _, im := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", im.ID(), orDash(im.Release), im.Arch,
					images.HumanBytes(im.Size), im.PulledAt.Local().Format(time.DateOnly), im.Name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newImageRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm RELEASE|ID...",
		Aliases: []string{"remove"},
		Short:   "Remove cached images by release or ID (a digest prefix of at least 8 digits)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cache, err := store.CacheDir()
			if err != nil {
				return err
			}
			for _, a := range args {
				found, err := images.Find(cache, a)
				if err != nil {
					return err
				}
				if err := images.Remove(cache, a); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s %s\n", found[0].ID(), found[0].Name)
			}
			return nil
		},
		ValidArgsFunction: completeImages,
	}
}

func newImageInspectCommand() *cobra.Command {
	var asJSON bool
	var arch string
	cmd := &cobra.Command{
		Use:   "inspect PATH|RELEASE|ID",
		Short: "Show an installer ISO's label, release, arch and default boot entry",
		Long: `Read an ISO (a file, or a cached image given by release or ID) without
mounting it and show its volume label, release, architecture, boot
configurations and the default entry's kernel, initrd and parameters.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := inspectTarget(args[0], arch)
			if err != nil {
				return err
			}
			info, err := iso.Inspect(p)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return imageJSON(out, info)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, kv := range [][2]string{
				{"path", p}, {"label", info.Label}, {"release", info.Release}, {"arch", info.Arch},
				{"version", info.Version}, {"boot configs", strings.Join(info.BootConfigs, ", ")},
				{"kernel", info.Kernel}, {"initrd", info.Initrd}, {"cmdline", info.Cmdline},
			} {
				fmt.Fprintf(tw, "%s:\t%s\n", kv[0], orDash(kv[1]))
			}
			return tw.Flush()
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			names, _ := completeImages(cmd, args, toComplete)
			return names, cobra.ShellCompDirectiveDefault // files too
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&arch, "arch", "", "with a RELEASE, the architecture of the cached image (when several are cached)")
	return cmd
}

// inspectTarget turns PATH|RELEASE|ID into an ISO path: an existing file
// wins, otherwise the one cached image matching the release or ID.
func inspectTarget(arg, arch string) (string, error) {
	if st, err := os.Stat(arg); err == nil {
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("%s: not a regular file", arg)
		}
		return arg, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	cache, err := store.CacheDir()
	if err != nil {
		return "", err
	}
	found, err := images.Find(cache, arg)
	if err != nil {
		return "", fmt.Errorf("%s: no such file, nor a release or image ID", arg)
	}
	var match []images.Image
	for _, im := range found {
		if arch == "" || im.Arch == arch {
			match = append(match, im)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("%q is not a file nor a cached image (run nixvm image pull %s, or see nixvm image list)", arg, arg)
	case 1:
		return match[0].Path, nil
	}
	return "", fmt.Errorf("%q matches %d cached images: give --arch or an ID (see nixvm image list)", arg, len(match))
}

// completeImages completes cached image releases and IDs.
func completeImages(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cache, err := store.CacheDir()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, _ := images.List(cache)
	var out []string
	seen := map[string]bool{}
	for _, im := range list {
		for _, c := range []string{im.Release, im.ID()} {
			if c != "" && strings.HasPrefix(c, toComplete) && !seen[c] {
				seen[c] = true
				out = append(out, c+"\t"+im.Arch+" "+im.Name)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func imageJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newImageProgress shows a progress bar on a terminal, plain lines
// otherwise (logs, CI, pipes).
func newImageProgress(w io.Writer) images.Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w}
	}
	return &images.LineProgress{W: w}
}

// barProgress draws a schollz/progressbar bar.
type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Begin(name string, done, total int64) {
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
	p.bar.Set64(done)
}

func (p *barProgress) Advance(n int64) { p.bar.Add64(n) }

func (p *barProgress) End(err error) {
	if p.bar == nil {
		return
	}
	if err == nil {
		p.bar.Finish()
		return
	}
	p.bar.Exit()
	fmt.Fprintln(p.w)
}
