package store

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
)

// NameRE is the set of valid VM names (also used as a directory name).
var NameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Exists reports whether the instance directory exists.
func (in Instance) Exists() bool {
	fi, err := os.Stat(in.Dir)
	return err == nil && fi.IsDir()
}

// Lookup opens an existing VM, or says that there is none by that name.
func Lookup(name string) (Instance, error) {
	if !NameRE.MatchString(name) {
		return Instance{}, fmt.Errorf("VM name %q is not valid (use 1-63 of a-z, 0-9 and -, starting with a letter or digit)", name)
	}
	in, err := Open(name)
	if err != nil {
		return in, err
	}
	if !in.Exists() {
		return in, &NotFoundError{Name: name}
	}
	return in, nil
}

// NotFoundError says that there is no VM by that name.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("no VM named %q", e.Name) }

// List returns the VMs in the data dir, sorted by name. Entries that are not
// valid VM names (such as temporary directories of an unfinished create) are
// skipped.
func List() ([]Instance, error) {
	vms, err := VMsDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(vms)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Instance
	for _, e := range ents {
		if e.IsDir() && NameRE.MatchString(e.Name()) {
			in, err := Open(e.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
