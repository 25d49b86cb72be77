package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultFileName is the name used in Parse's error messages.
const DefaultFileName = "nixvm.yaml"

// Parse reads one spec from YAML. Unknown fields, wrong types, an empty
// input and more than one document are errors naming the line and field.
// Parse does not apply defaults or validate; callers do
// Parse/Load → Flags.Apply → ApplyDefaults → Validate.
func Parse(data []byte) (*Spec, error) { return parse(DefaultFileName, data) }

// Load reads and parses the spec file at path. Errors name the path.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec file: %w", err)
	}
	return parse(path, data)
}

// Marshal writes the spec as YAML in the nixvm.yaml format. Parse reads the
// output back to an equal spec.
func (s *Spec) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("marshal spec %q: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal spec %q: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}

func parse(file string, data []byte) (*Spec, error) {
	// First pass: the document tree, for the file's shape and for mapping
	// line numbers back to field paths in error messages.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: file is empty (write at least \"name: myvm\"; see docs/spec.md)", file)
		}
		return nil, translateYAMLError(file, err, nil)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		return nil, fmt.Errorf("%s line %d: a second YAML document starts here; a spec file describes exactly one VM", file, docLine(&second))
	case !errors.Is(err, io.EOF):
		return nil, translateYAMLError(file, err, nil)
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, fmt.Errorf("%s: file is empty (write at least \"name: myvm\"; see docs/spec.md)", file)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s line %d: expected a mapping of fields like \"name: myvm\", got %s", file, root.Line, describeNode(root))
	}

	// Second pass: the typed decode, strict about field names.
	var s Spec
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&s); err != nil {
		return nil, translateYAMLError(file, err, newLineIndex(root))
	}
	if err := explicitZeros(file, root, &s); err != nil {
		return nil, err
	}
	if s.Version < 0 || s.Version > SpecVersion {
		return nil, fmt.Errorf("%s: version %d: this nixvm reads spec versions 1 to %d (a newer nixvm wrote this file?)", file, s.Version, SpecVersion)
	}
	// "disks: []" and a missing field mean the same; keep one form so a
	// parsed spec compares equal to its re-parsed Marshal output.
	if len(s.Disks) == 0 {
		s.Disks = nil
	}
	if len(s.PortForwards) == 0 {
		s.PortForwards = nil
	}
	if len(s.Substituters) == 0 {
		s.Substituters = nil
	}
	if len(s.TrustedPublicKeys) == 0 {
		s.TrustedPublicKeys = nil
	}
	return &s, nil
}

func docLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

var (
	reLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	reColumn    = regexp.MustCompile(`^column (\d+): (.*)$`)
	reNotFound  = regexp.MustCompile(`^field (.*) not found in type (\S+)$`)
	reDuplicate = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	reCannot    = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	reSyntax    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// translateYAMLError turns the decoder's errors into one line:
// "FILE line N: FIELD: problem". Only the first problem is reported; fixing
// it and re-running shows the next, as with Validate.
func translateYAMLError(file string, err error, ix *lineIndex) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		msg := err.Error()
		if m := reSyntax.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s line %s: invalid YAML: %s", file, m[1], m[2])
		}
		return fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(msg, "yaml: "))
	}
	msg := te.Errors[0]
	m := reLine.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("%s: %s", file, msg)
	}
	line, _ := strconv.Atoi(m[1])
	body := m[2]
	path := ix.path(line)
	if m := reColumn.FindStringSubmatch(body); m != nil {
		col, _ := strconv.Atoi(m[1])
		body = m[2]
		if p, ok := ix.at(line, col); ok {
			path = p
		}
	}
	prefix := fmt.Sprintf("%s line %d: ", file, line)

	if m := reNotFound.FindStringSubmatch(body); m != nil {
		name, typ := m[1], m[2]
		parent := path
		if n := len(parent); n > 0 && parent[n-1] == name {
			parent = parent[:n-1]
		}
		valid := fieldsOf(typ)
		where := ""
		if len(parent) > 0 {
			where = formatPath(parent) + ": "
		}
		hint := ""
		if s := suggest(name, valid); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
		return fmt.Errorf("%s%sunknown field %q (valid fields: %s)%s", prefix, where, name, strings.Join(valid, ", "), hint)
	}
	where := ""
	if len(path) > 0 {
		where = formatPath(path) + ": "
	}
	if m := reDuplicate.FindStringSubmatch(body); m != nil {
		return fmt.Errorf("%s%sset twice (first at line %s)", prefix, where, m[2])
	}
	if m := reCannot.FindStringSubmatch(body); m != nil {
		// The decoder names the offending node's tag; on a line holding a
		// key and a nested value ("disks: {size: 20G}") that tells which
		// of them is meant.
		if p, ok := ix.byTag(line, m[1]); ok {
			where = formatPath(p) + ": "
		}
		return fmt.Errorf("%s%sexpected %s, got %s", prefix, where, describeGoType(m[3]), describeTag(m[1], m[2]))
	}
	return fmt.Errorf("%s%s%s", prefix, where, body)
}

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "int" || strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "text"
	case t == "spec.Spec":
		return "a mapping of fields"
	case t == "spec.Disk":
		return "a mapping like {size: 20G}"
	}
	return t
}

func describeTag(tag, value string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!str":
		return strconv.Quote(value)
	}
	return value
}

// fieldsOf lists the YAML field names of a type named in a decoder error.
func fieldsOf(typ string) []string {
	var t reflect.Type
	switch typ {
	case "spec.Spec":
		t = reflect.TypeFor[Spec]()
	case "spec.Disk":
		t = reflect.TypeFor[Disk]()
	default:
		return nil
	}
	return yamlFields(t)
}

func yamlFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// suggest finds the field a misspelling most likely meant: the same
// letters ignoring case, '-' and '_' (Name, partition_table, ssh-port), or
// one or two typos away (sise, memroy).
func suggest(name string, valid []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	}
	best, bestDist := "", 3
	for _, v := range valid {
		d := editDistance(norm(name), norm(v))
		if d < bestDist && d < len(v)/2+1 {
			best, bestDist = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// lineIndex maps a line of the file to the field path written there, so
// errors that carry only a line can name the field.
type lineIndex struct {
	lines map[int]lineEntry
	exact map[[2]int][]string // by line and column of a value
	tags  map[lineTag][][]string
}

type lineTag struct {
	line int
	tag  string
}

func newLineIndex(root *yaml.Node) *lineIndex {
	ix := &lineIndex{lines: map[int]lineEntry{}, exact: map[[2]int][]string{}, tags: map[lineTag][][]string{}}
	ix.walk(root, nil)
	return ix
}

type lineEntry struct {
	path []string
	// frozen marks a line holding siblings (a flow list like [a, b]); its
	// path stays at their common parent.
	frozen bool
}

func (ix *lineIndex) walk(n *yaml.Node, path []string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := append(path[:len(path):len(path)], k.Value)
			ix.add(k.Line, p)
			ix.add(v.Line, p)
			ix.value(v, p)
			ix.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := append(path[:len(path):len(path)], "["+strconv.Itoa(i)+"]")
			ix.add(c.Line, p)
			ix.value(c, p)
			ix.walk(c, p)
		}
	}
}

func (ix *lineIndex) add(line int, path []string) {
	e, ok := ix.lines[line]
	switch {
	case !ok:
		ix.lines[line] = lineEntry{path: path}
	case e.frozen:
	case hasPrefix(path, e.path):
		ix.lines[line] = lineEntry{path: path}
	case hasPrefix(e.path, path):
	default:
		n := 0
		for n < len(path) && n < len(e.path) && path[n] == e.path[n] {
			n++
		}
		ix.lines[line] = lineEntry{path: path[:n], frozen: true}
	}
}

// value records where the value at path starts and what it is.
func (ix *lineIndex) value(n *yaml.Node, path []string) {
	ix.exact[[2]int{n.Line, n.Column}] = path
	k := lineTag{n.Line, n.ShortTag()}
	ix.tags[k] = append(ix.tags[k], path)
}

// byTag finds the one value on line with the given tag.
func (ix *lineIndex) byTag(line int, tag string) ([]string, bool) {
	if ix == nil || len(ix.tags[lineTag{line, tag}]) != 1 {
		return nil, false
	}
	return ix.tags[lineTag{line, tag}][0], true
}

func (ix *lineIndex) at(line, col int) ([]string, bool) {
	if ix == nil {
		return nil, false
	}
	p, ok := ix.exact[[2]int{line, col}]
	return p, ok
}

func (ix *lineIndex) path(line int) []string {
	if ix == nil {
		return nil
	}
	return ix.lines[line].path
}

func hasPrefix(p, prefix []string) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

// formatPath writes a path as disks[0].size.
func formatPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// explicitZeros refuses fields written as 0 whose 0 would otherwise mean
// "use the default": "cpus: 0" is a mistake, not a request for 2 CPUs.
func explicitZeros(file string, root *yaml.Node, s *Spec) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		var msg string
		switch {
		case key.Value == "cpus" && s.CPUs == 0:
			msg = fmt.Sprintf("0 is out of range (use 1 to %d, or leave cpus out for the default %d)", MaxCPUs, DefaultCPUs)
		case key.Value == "memory" && s.Memory == 0:
			msg = fmt.Sprintf("0 is too small (use at least %s, or leave memory out for the default %s)", MinMemory, DefaultMemory)
		case key.Value == "networkTimeout" && s.NetworkTimeout == 0:
			msg = fmt.Sprintf("0 is out of range (use %s to %s, or leave it out for the default %s)", MinNetworkTimeout, MaxNetworkTimeout, DefaultNetworkTimeout)
		default:
			continue
		}
		if val.Tag == "!!null" {
			continue // "cpus:" with no value: unset
		}
		return fmt.Errorf("%s line %d: %s: %s", file, val.Line, key.Value, msg)
	}
	return nil
}
