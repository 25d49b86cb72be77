package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxSize is the largest size ParseSize accepts; integers in YAML and JSON
// share the limit so every accepted size prints and re-parses unchanged.
const maxSize = Size(1 << 62)

// UnmarshalYAML accepts a size string ("20G") or an integer byte count.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return yamlError(n, "expected a size like 512M or 20G, got %s", describeNode(n))
	}
	if n.ShortTag() == "!!int" {
		var b int64
		if err := n.Decode(&b); err != nil {
			return yamlError(n, "invalid size %q (use e.g. 512M, 20G, 20GiB)", n.Value)
		}
		v, err := sizeFromInt(b)
		if err != nil {
			return yamlError(n, "%v", err)
		}
		*s = v
		return nil
	}
	if n.ShortTag() != "!!str" {
		return yamlError(n, "invalid size %q (use a whole number with an optional unit: 512M, 20G, 20GiB)", n.Value)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return yamlError(n, "%v", err)
	}
	*s = v
	return nil
}

// MarshalYAML writes the size as a string such as "20G", or as a plain
// integer when it has no whole unit (0, 1000), which reads back as bytes.
func (s Size) MarshalYAML() (any, error) {
	str := s.String()
	if n, err := strconv.ParseInt(str, 10, 64); err == nil {
		return n, nil
	}
	return str, nil
}

// MarshalJSON writes the size as a JSON string such as "20G".
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts a size string or a number of bytes.
func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := ParseSize(str)
		if err != nil {
			return err
		}
		*s = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid size %s (use a string like \"20G\" or a whole number of bytes)", b)
	}
	v, err := sizeFromInt(n)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func sizeFromInt(n int64) (Size, error) {
	if n < 0 {
		return 0, fmt.Errorf("invalid size %d (must not be negative)", n)
	}
	if Size(n) > maxSize {
		return 0, fmt.Errorf("size %d is too large", n)
	}
	return Size(n), nil
}

// ParsePortForward parses "HOST:GUEST" or "HOST:GUEST/PROTO", e.g. "8080:80"
// or "8080:80/tcp". The protocol defaults to tcp. It checks only the shape;
// Validate checks port ranges and protocols.
func ParsePortForward(s string) (PortForward, error) {
	bad := func() (PortForward, error) {
		return PortForward{}, fmt.Errorf("invalid port forward %q (use HOST:GUEST, e.g. 8080:80)", s)
	}
	ports, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	if hasProto && proto == "" {
		return bad()
	}
	if !hasProto {
		proto = "tcp"
	}
	h, g, ok := strings.Cut(ports, ":")
	if !ok {
		return bad()
	}
	host, err1 := parsePort(h)
	guest, err2 := parsePort(g)
	if err1 != nil || err2 != nil {
		return bad()
	}
	return PortForward{Host: host, Guest: guest, Proto: strings.ToLower(proto)}, nil
}

// parsePort accepts digits only (no sign, no spaces) so that String
// reproduces the input's meaning exactly.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return strconv.Atoi(s)
}

// String renders "HOST:GUEST", adding "/PROTO" only for a protocol other
// than tcp.
func (p PortForward) String() string {
	s := strconv.Itoa(p.Host) + ":" + strconv.Itoa(p.Guest)
	if p.Proto != "" && p.Proto != "tcp" {
		s += "/" + p.Proto
	}
	return s
}

// UnmarshalYAML accepts the string form "HOST:GUEST[/tcp]".
func (p *PortForward) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return yamlError(n, "expected a port forward like \"8080:80\", got %s", describeNode(n))
	}
	v, err := ParsePortForward(n.Value)
	if err != nil {
		return yamlError(n, "%v", err)
	}
	*p = v
	return nil
}

// MarshalYAML writes the string form.
func (p PortForward) MarshalYAML() (any, error) { return p.String(), nil }

// MarshalJSON writes the string form as a JSON string.
func (p PortForward) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON accepts the string form.
func (p *PortForward) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid port forward %s (use a string like \"8080:80\")", b)
	}
	v, err := ParsePortForward(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// yamlError reports a problem at n in the same "line N: ..." form as the
// YAML decoder's own type errors, so Parse orders and rewrites all of them
// the same way (see translateYAMLError). The column, which the decoder's
// own errors lack, lets Parse name the exact list item in a flow list.
func yamlError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)}}
}

// describeNode names what a node is, for "expected X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}
