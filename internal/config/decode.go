package config

// Decoding: the YAML tree walked beside the Go value, strictly (unknown
// keys, wrong kinds and bad values are errors naming the field and line).

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML tree beside the Go value, so every error knows its
// field path and line.
type decoder struct {
	file  string
	set   map[string]bool // field paths present in the file
	lines map[string]int  // field path → line
	nodes int             // nodes walked, aliases expanded: bounded by maxNodes
}

// maxNodes bounds the work of decoding: aliases are expanded by the walk,
// so a small hostile file could otherwise make it walk (and allocate)
// quadratically. Real configurations have a few hundred nodes.
const maxNodes = 100000

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.file, Field: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if d.set == nil {
		d.set, d.lines = map[string]bool{}, map[string]int{}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes++; d.nodes > maxNodes {
		return d.fail(n, path, "more than %d values (aliases expanded): not a configuration file", maxNodes)
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value keeps the default
	}
	d.set[path] = true
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, path, "want a duration such as 500ms or 30s")
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil || dur < 0 {
			return d.fail(n, path, "%q is not a duration such as 500ms or 30s", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	}
	if v.Type() == reflect.TypeOf(Coord{}) {
		return d.coord(n, v, path)
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return d.fail(n, path, "want a mapping of keys, got %s", kindName(n))
		}
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			fields[v.Type().Field(i).Tag.Get("yaml")] = i
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				return d.fail(k, p, "unknown key %q%s", k.Value, didYouMean(k.Value, fields))
			}
			if seen[k.Value] {
				return d.fail(k, p, "key %q given twice", k.Value)
			}
			seen[k.Value] = true
			d.lines[p] = k.Line // errors point at the key, not a nested value's line
			if err := d.decode(val, v.Field(idx), p); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if v.Type().Elem().Kind() == reflect.Float64 && n.Kind == yaml.ScalarNode {
				// one value for every channel
				s := reflect.MakeSlice(v.Type(), 1, 1)
				if err := d.decode(n, s.Index(0), path+"[0]"); err != nil {
					return err
				}
				v.Set(s)
				return nil
			}
			return d.fail(n, path, "want a list, got %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, path, "want a %s value, got %s", v.Kind(), kindName(n))
		}
		if err := setScalar(v, n); err != nil {
			return d.fail(n, path, "%v", err)
		}
	}
	return nil
}

// coord reads a Box coordinate: a whole number is pixels, a number
// written with a decimal point a fraction of the frame's side.
func (d *decoder) coord(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return d.fail(n, path, "want pixels (a whole number such as 40) or a fraction of the frame (such as 0.25), got %s", kindName(n))
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		return d.fail(n, path, "%q is not a number", n.Value)
	}
	frac := n.Tag == "!!float"
	if !frac && f != float64(int64(f)) {
		return d.fail(n, path, "%q is not a whole number of pixels", n.Value)
	}
	v.Set(reflect.ValueOf(Coord{V: f, Frac: frac}))
	return nil
}

func setScalar(v reflect.Value, n *yaml.Node) error {
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" {
			return fmt.Errorf("%q is not a string", n.Value)
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			return fmt.Errorf("%q is not true or false", n.Value)
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			return fmt.Errorf("%q is not a whole number", n.Value)
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!float") {
			return fmt.Errorf("%q is not a number", n.Value)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported field type %s", v.Kind())
	}
	return nil
}

// didYouMean suggests the closest known key for a misspelt one, when there
// is a close one: at most two edits away, and fewer edits than the key has
// letters (so "x" does not suggest "h").
func didYouMean(key string, fields map[string]int) string {
	best, bestDist := "", min(3, len(key))
	for f := range fields {
		if d := editDistance(key, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, counting an
// exchange of two neighbouring letters as one edit (fsp → fps).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // keys are short; long input is never a near miss
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
