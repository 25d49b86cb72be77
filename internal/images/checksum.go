package images

import (
	"fmt"
	"regexp"
	"strings"
)

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseChecksum reads a NixOS .sha256 file: lowercase hex SHA-256, two
// spaces, the versioned file name, no trailing newline. Only the first field
// is used (never `sha256sum -c`: the name is the versioned one, not ours).
// It returns the digest and the file name, which may be empty.
func ParseChecksum(data []byte) (digest, name string, err error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", "", fmt.Errorf("checksum file is empty")
	}
	digest = fields[0]
	if !sha256Re.MatchString(digest) {
		return "", "", fmt.Errorf("checksum file starts with %q: want 64 lowercase hex digits", truncate(digest, 70))
	}
	if len(fields) > 1 {
		name = strings.TrimPrefix(fields[1], "*") // sha256sum's binary-mode marker
	}
	return digest, name, nil
}

// ValidateSHA256 checks a digest given by the user.
func ValidateSHA256(s string) error {
	if !sha256Re.MatchString(s) {
		return fmt.Errorf("sha256 %q: want 64 lowercase hex digits", truncate(s, 70))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
