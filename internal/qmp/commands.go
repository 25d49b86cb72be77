package qmp

import (
	"context"
	"errors"
)

// SystemPowerdown asks the guest to power off, as if the power button were
// pressed (ACPI). QEMU accepts it even when no guest OS listens; whether the
// machine actually stops shows up later as a SHUTDOWN event.
func (c *Client) SystemPowerdown(ctx context.Context) error {
	return c.Execute(ctx, "system_powerdown", nil, nil)
}

// Quit makes QEMU exit at once, without asking the guest. QEMU may close the
// socket before its reply is read; that counts as success, since exiting is
// what was asked for.
func (c *Client) Quit(ctx context.Context) error {
	err := c.Execute(ctx, "quit", nil, nil)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// QueryStatus reports whether the guest CPUs are running and QEMU's run state
// ("running", "paused", "shutdown", "prelaunch", ...).
func (c *Client) QueryStatus(ctx context.Context) (running bool, status string, err error) {
	var r struct {
		Running bool   `json:"running"`
		Status  string `json:"status"`
	}
	if err := c.Execute(ctx, "query-status", nil, &r); err != nil {
		return false, "", err
	}
	return r.Running, r.Status, nil
}
