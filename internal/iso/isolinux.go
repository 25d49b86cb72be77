package iso

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
)

// ParseIsolinux reads an isolinux/syslinux configuration and returns its
// LABEL entries in file order and the default entry's label: the label
// marked MENU DEFAULT, else the first word of DEFAULT, else the first
// LABEL. Keywords are case-insensitive; values keep their case. Entries
// inside MENU BEGIN ... MENU END blocks carry the block titles in Menu.
//
// An initrd given as initrd= inside APPEND (instead of an INITRD line)
// moves to Initrd and out of Params: a kernel booted directly must not
// see it, because the EFI stub would try to load that file itself.
func ParseIsolinux(cfg []byte) ([]Entry, string, error) {
	var (
		entries     []Entry
		hasAppend   []bool
		globalArgs  []string
		defaultWord string
		menuDefault string
		menus       []string
		inText      bool
	)
	cur := -1 // index of the LABEL block being read
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inText {
			// TEXT HELP blocks hold free text up to ENDTEXT.
			if strings.EqualFold(firstWord(line), "ENDTEXT") {
				inText = false
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kw, arg := splitKeyword(line)
		switch kw {
		case "TEXT":
			inText = true
		case "DEFAULT":
			defaultWord = firstWord(arg)
		case "LABEL":
			entries = append(entries, Entry{Label: arg, Menu: strings.Join(menus, menuSep)})
			hasAppend = append(hasAppend, false)
			cur = len(entries) - 1
		case "LINUX", "KERNEL":
			// Words after the kernel are parameters, as with APPEND.
			if fields := strings.Fields(arg); cur >= 0 && len(fields) > 0 {
				entries[cur].Kernel = fields[0]
				entries[cur].Params = append(entries[cur].Params, fields[1:]...)
			}
		case "APPEND":
			params := strings.Fields(arg)
			if len(params) == 1 && params[0] == "-" { // "APPEND -": no options
				params = []string{}
			}
			if cur < 0 {
				globalArgs = params
			} else {
				entries[cur].Params = append(entries[cur].Params, params...)
				hasAppend[cur] = true
			}
		case "INITRD":
			if cur >= 0 {
				entries[cur].Initrd = firstOf(arg)
			}
		case "MENU":
			sub, rest := splitKeyword(arg)
			switch sub {
			case "LABEL":
				if cur >= 0 {
					entries[cur].Title = rest
				}
			case "BEGIN":
				menus = append(menus, rest)
				cur = -1
			case "END":
				if len(menus) > 0 {
					menus = menus[:len(menus)-1]
				}
				cur = -1
			case "DEFAULT":
				if cur >= 0 && menuDefault == "" {
					menuDefault = entries[cur].Label
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	if len(entries) == 0 {
		return nil, "", errors.New("no LABEL entries")
	}
	for i := range entries {
		if !hasAppend[i] && globalArgs != nil {
			entries[i].Params = append(entries[i].Params, globalArgs...)
		}
		entries[i].Params = takeInitrdParam(&entries[i])
		entries[i].Kernel = cleanPath(entries[i].Kernel)
		entries[i].Initrd = cleanPath(entries[i].Initrd)
	}
	def := menuDefault
	if def == "" {
		def = defaultWord
	}
	if def == "" {
		def = entries[0].Label
	}
	return entries, def, nil
}

// takeInitrdParam removes initrd= from the parameters, using it as the
// initrd when no INITRD line gave one.
func takeInitrdParam(e *Entry) []string {
	params := make([]string, 0, len(e.Params))
	for _, p := range e.Params {
		if v, ok := strings.CutPrefix(p, "initrd="); ok {
			if e.Initrd == "" {
				e.Initrd = firstOf(v)
			}
			continue
		}
		params = append(params, p)
	}
	return params
}

// firstOf returns the first of a comma-separated list of files (syslinux
// loads several initrds; the first is the one a NixOS entry names).
func firstOf(s string) string {
	f, _, _ := strings.Cut(strings.TrimSpace(s), ",")
	return strings.TrimSpace(f)
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// splitKeyword splits "KEYWORD rest" and upper-cases the keyword.
func splitKeyword(line string) (string, string) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return strings.ToUpper(line), ""
	}
	return strings.ToUpper(line[:i]), strings.TrimSpace(line[i+1:])
}
