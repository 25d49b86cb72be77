package qga

import "context"

// FSFreeze flushes and freezes the guest's file systems
// (guest-fsfreeze-freeze) and returns how many it froze. Until FSThaw, writes
// in the guest block; callers must thaw whatever happens.
func (c *Client) FSFreeze(ctx context.Context) (int, error) {
	var n int
	err := c.Do(ctx, "guest-fsfreeze-freeze", nil, &n)
	return n, err
}

// FSThaw thaws the guest's file systems (guest-fsfreeze-thaw) and returns
// how many it thawed.
func (c *Client) FSThaw(ctx context.Context) (int, error) {
	var n int
	err := c.Do(ctx, "guest-fsfreeze-thaw", nil, &n)
	return n, err
}
