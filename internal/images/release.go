// Package images gets NixOS installer ISOs: it resolves a release to a
// channel URL, downloads the ISO with resume and SHA-256 verification into a
// cache keyed by digest, and lists and removes cached images. Nothing that
// has not been verified is ever returned or listed.
package images

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultChannelsURL is where channel aliases live unless overridden.
const DefaultChannelsURL = "https://channels.nixos.org"

// ChannelsURLEnv overrides DefaultChannelsURL (mirrors, offline hosts).
const ChannelsURLEnv = "NIXVM_CHANNELS_URL"

// PinnedStable is the stable release used when the channel server cannot
// tell which channels exist. Bump it with each NixOS release.
const PinnedStable = "25.11"

// Arches are the architectures minimal ISOs are published for.
var Arches = []string{"x86_64", "aarch64"}

var versionRe = regexp.MustCompile(`^[0-9]{2}\.(05|11)$`)

// ValidateArch checks arch is one that minimal ISOs exist for.
func ValidateArch(arch string) error {
	if !slices.Contains(Arches, arch) {
		return fmt.Errorf("arch %q: valid values are %s", arch, strings.Join(Arches, ", "))
	}
	return nil
}

// ValidateRelease checks release is a version (YY.05 or YY.11), "stable",
// "unstable" or empty (meaning stable).
func ValidateRelease(release string) error {
	switch {
	case release == "", release == "stable", release == "unstable", versionRe.MatchString(release):
		return nil
	}
	return fmt.Errorf("release %q: valid values are a version YY.05 or YY.11 (e.g. %s), stable or unstable", release, PinnedStable)
}

// ChannelName is the channel a release is published on: nixos-25.11,
// nixos-unstable.
func ChannelName(release string) string { return "nixos-" + release }

// AliasURL is the channel's "latest minimal ISO" alias, which redirects to
// the versioned file on releases.nixos.org.
func AliasURL(base, release, arch string) string {
	return strings.TrimRight(base, "/") + "/" + ChannelName(release) + "/latest-nixos-minimal-" + arch + "-linux.iso"
}

// ValidateBaseURL checks a channels base URL is an absolute http(s) URL.
func ValidateBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("channels URL %q: want an absolute http:// or https:// URL", base)
	}
	return nil
}

// channelRe matches a stable channel name in a listing. The character after
// the version must not continue the name, so that nixos-25.11-small and
// nixos-25.11-darwin (and nixos-25.115) are not taken for nixos-25.11:
// minimal ISOs are only published on the main channels.
var channelRe = regexp.MustCompile(`\bnixos-([0-9]{2}\.(?:05|11))(?:[^0-9A-Za-z._-]|$)`)

// ParseChannels returns the stable releases named in a channel server's
// listing (HTML or plain text), newest first, without duplicates.
func ParseChannels(listing string) []string {
	var rels []string
	for _, m := range channelRe.FindAllStringSubmatch(listing, -1) {
		if !slices.Contains(rels, m[1]) {
			rels = append(rels, m[1])
		}
	}
	slices.SortFunc(rels, func(a, b string) int { return compareVersions(b, a) })
	return rels
}

// compareVersions orders YY.MM versions; both must match versionRe.
func compareVersions(a, b string) int {
	ay, am := splitVersion(a)
	by, bm := splitVersion(b)
	if ay != by {
		return ay - by
	}
	return am - bm
}

func splitVersion(v string) (year, month int) {
	y, m, _ := strings.Cut(v, ".")
	year, _ = strconv.Atoi(y)
	month, _ = strconv.Atoi(m)
	return year, month
}
