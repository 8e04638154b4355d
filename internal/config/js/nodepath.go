package js

import "strings"

// POSIX path functions with Node.js semantics (path.posix), used by the JavaScript
// runtime and by the normalization (PM2 derives names with path.basename).

// normalizeSegments resolves "." and ".." segments; allowAboveRoot keeps leading ".."
// segments of relative paths.
func normalizeSegments(p string, allowAboveRoot bool) string {
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 && out[len(out)-1] != ".." {
				out = out[:len(out)-1]
			} else if allowAboveRoot {
				out = append(out, "..")
			}
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/")
}

func NodeNormalize(p string) string {
	if p == "" {
		return "."
	}
	abs := strings.HasPrefix(p, "/")
	trailing := strings.HasSuffix(p, "/")
	p = normalizeSegments(p, !abs)
	if p == "" {
		if abs {
			return "/"
		}
		if trailing {
			return "./"
		}
		return "."
	}
	if trailing {
		p += "/"
	}
	if abs {
		return "/" + p
	}
	return p
}

func NodeJoin(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return "."
	}
	return NodeNormalize(strings.Join(keep, "/"))
}

// NodeResolve is path.resolve with cwd as process.cwd().
func NodeResolve(cwd string, parts ...string) string {
	resolved := ""
	abs := false
	for i := len(parts) - 1; i >= -1 && !abs; i-- {
		p := cwd
		if i >= 0 {
			p = parts[i]
		}
		if p == "" {
			continue
		}
		resolved = p + "/" + resolved
		abs = strings.HasPrefix(p, "/")
	}
	resolved = normalizeSegments(resolved, !abs)
	if abs {
		return "/" + resolved
	}
	if resolved == "" {
		return "."
	}
	return resolved
}

func NodeDirname(p string) string {
	if p == "" {
		return "."
	}
	hasRoot := p[0] == '/'
	end := -1
	matchedSlash := true
	for i := len(p) - 1; i >= 1; i-- {
		if p[i] == '/' {
			if !matchedSlash {
				end = i
				break
			}
		} else {
			matchedSlash = false
		}
	}
	if end == -1 {
		if hasRoot {
			return "/"
		}
		return "."
	}
	if hasRoot && end == 1 {
		return "//"
	}
	return p[:end]
}

func NodeBasename(p, ext string) string {
	// strip trailing slashes
	end := len(p)
	for end > 1 && p[end-1] == '/' {
		end--
	}
	if end == 1 && p[0] == '/' {
		return ""
	}
	p = p[:end]
	base := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		base = p[i+1:]
	}
	if ext != "" && ext != base && strings.HasSuffix(base, ext) {
		base = base[:len(base)-len(ext)]
	}
	return base
}

func NodeExtname(p string) string {
	base := NodeBasename(p, "")
	i := strings.LastIndexByte(base, '.')
	if i <= 0 {
		return ""
	}
	// ".." and names of only dots have no extension
	if strings.Trim(base, ".") == "" {
		return ""
	}
	return base[i:]
}

func NodeRelative(cwd, from, to string) string {
	from = NodeResolve(cwd, from)
	to = NodeResolve(cwd, to)
	if from == to {
		return ""
	}
	fs := strings.Split(strings.TrimPrefix(from, "/"), "/")
	ts := strings.Split(strings.TrimPrefix(to, "/"), "/")
	if from == "/" {
		fs = nil
	}
	if to == "/" {
		ts = nil
	}
	i := 0
	for i < len(fs) && i < len(ts) && fs[i] == ts[i] {
		i++
	}
	var out []string
	for range fs[i:] {
		out = append(out, "..")
	}
	out = append(out, ts[i:]...)
	return strings.Join(out, "/")
}
