package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/store"
)

func TestVersion(t *testing.T) {
	code, out, errOut := runNixvm(t, "version")
	if code != 0 || !strings.HasPrefix(out, "nixvm ") || !strings.Contains(out, fmt.Sprintf("on-disk format: %d", store.FormatVersion)) {
		t.Fatalf("version: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runNixvm(t, "version", "--json")
	var v VersionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Format != store.FormatVersion || v.Version == "" || v.Go == "" {
		t.Fatalf("version --json: exit %d, %v: %s", code, err, out)
	}
}
