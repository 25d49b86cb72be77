package images

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Source is where the ISO for a release and arch comes from.
type Source struct {
	Release string // resolved: "25.11" or "unstable", never "stable"
	Arch    string
	URL     string // the channel alias; it redirects to the versioned file
	// Warning is set when the release could not be resolved as asked and a
	// fallback was used; callers show it to the user.
	Warning string
}

// maxListing bounds how much of the channel listing is read.
const maxListing = 4 << 20

// Resolve turns release ("25.11", "unstable", "stable" or "") and arch into
// the channel alias URL under base. "stable" asks the channel server which
// channels exist and picks the newest stable one; when that fails it uses
// PinnedStable and says so in Source.Warning.
func Resolve(ctx context.Context, client *http.Client, base, release, arch string) (Source, error) {
	if err := ValidateRelease(release); err != nil {
		return Source{}, err
	}
	if err := ValidateArch(arch); err != nil {
		return Source{}, err
	}
	if err := ValidateBaseURL(base); err != nil {
		return Source{}, err
	}
	src := Source{Release: release, Arch: arch}
	if release == "" || release == "stable" {
		rel, err := newestStable(ctx, client, base)
		if err != nil {
			rel = PinnedStable
			src.Warning = fmt.Sprintf("could not find the newest stable release (%v); using %s", err, PinnedStable)
		}
		src.Release = rel
	}
	src.URL = AliasURL(base, src.Release, arch)
	return src, nil
}

// newestStable lists the channels at base and returns the newest stable
// release among them.
func newestStable(ctx context.Context, client *http.Client, base string) (string, error) {
	u := strings.TrimRight(base, "/") + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		err = noAnswer(err)
		return "", fmt.Errorf("list channels: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("list channels at %s: HTTP %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListing))
	if err != nil {
		return "", fmt.Errorf("list channels at %s: %w", u, err)
	}
	rels := ParseChannels(string(body))
	if len(rels) == 0 {
		return "", fmt.Errorf("no nixos-YY.MM channel listed at %s", u)
	}
	return rels[0], nil
}
