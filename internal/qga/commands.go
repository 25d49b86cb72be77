package qga

import (
	"context"
	"slices"
)

// Ping checks that the agent runs and executes commands (guest-ping).
func (c *Client) Ping(ctx context.Context) error {
	return c.Do(ctx, "guest-ping", nil, nil)
}

// Info is what guest-info reports: the agent's version and the commands it
// knows, with whether each is enabled (a guest's agent configuration can
// block some, e.g. guest-exec).
type Info struct {
	Version           string    `json:"version"`
	SupportedCommands []Command `json:"supported_commands"`
}

// Command is one entry of Info.SupportedCommands.
type Command struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// SuccessResponse is false for commands that send no reply when they
	// succeed (guest-shutdown, guest-suspend-*); Do cannot wait for those.
	SuccessResponse bool `json:"success-response"`
}

// Supports reports whether the agent knows cmd and has it enabled, so that
// callers can check before relying on e.g. guest-fsfreeze-freeze.
func (i Info) Supports(cmd string) bool {
	return slices.ContainsFunc(i.SupportedCommands, func(c Command) bool { return c.Name == cmd && c.Enabled })
}

// Info asks the agent for its version and commands (guest-info).
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	err := c.Do(ctx, "guest-info", nil, &i)
	return i, err
}
