package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// WriteSeed writes a read-only seed image for the installer to path: an
// ISO 9660 image labelled SeedLabel holding files in its root directory,
// with Rock Ridge so that Linux sees the real names and modes (plain ISO
// 9660 would show INSTALL.SH;1). The image is written to a temporary file
// next to path and renamed, so path is either complete or absent. It holds
// the VM's private host key, so it is created mode 0600.
func WriteSeed(path string, files []SeedFile) (err error) {
	if err := checkSeedFiles(files); err != nil {
		return err
	}
	// go-diskfs builds an image from a directory tree (its workspace).
	work, err := os.MkdirTemp("", "nixvm-seed-")
	if err != nil {
		return fmt.Errorf("seed image: make a work directory: %w", err)
	}
	defer os.RemoveAll(work)
	// The workspace becomes the image's root directory: readable by all,
	// like any mount point (the key file itself stays 0600).
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("seed image: %w", err)
	}
	for _, f := range files {
		p := filepath.Join(work, f.Name)
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return fmt.Errorf("seed image: %w", err)
		}
		// Chmod: WriteFile's mode is filtered by the umask.
		if err := os.Chmod(p, f.Mode.Perm()); err != nil {
			return fmt.Errorf("seed image: %w", err)
		}
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("seed image: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	fs, err := iso9660.Create(file.New(tmp, false), 0, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("seed image %s: %w", path, err)
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: SeedLabel}); err != nil {
		return fmt.Errorf("seed image %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("seed image %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seed image %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("seed image: %w", err)
	}
	return nil
}

// checkSeedFiles accepts plain, distinct file names for the image's root
// directory.
func checkSeedFiles(files []SeedFile) error {
	if len(files) == 0 {
		return errors.New("seed image: no files given")
	}
	seen := map[string]bool{}
	for _, f := range files {
		switch {
		case f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00"):
			return fmt.Errorf("seed image: file name %q is not a plain file name", f.Name)
		case len(f.Name) > 200:
			return fmt.Errorf("seed image: file name %q is too long (at most 200 bytes)", f.Name)
		case seen[f.Name]:
			return fmt.Errorf("seed image: file %q is given twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}
