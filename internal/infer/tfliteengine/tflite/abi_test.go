package tflite

import (
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edged-io/edged/internal/testenv"
)

// The binding declares its own function-pointer types instead of including
// the TFLite headers, so nothing but these tests ties them to the real C
// API. They read the binding's cgo preamble as text and compare every
// declaration with the TFLite 2.9.0 headers that `make tflite-lib` unpacks,
// and check that both shipped libraries (amd64 and arm64, which cannot be
// dlopen'ed here) export every symbol the binding resolves. They need no
// cgo themselves.

// xnnpackPrototypes are the XNNPACK delegate's entry points as TFLite 2.9's
// tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h declares them; the
// npm package ships no header for them. The options struct is opaque to
// edged (it passes a zeroed block larger than any version's struct).
const xnnpackPrototypes = `
TFL_CAPI_EXPORT extern TfLiteDelegate* TfLiteXNNPackDelegateCreate(const TfLiteXNNPackDelegateOptions* options);
TFL_CAPI_EXPORT extern void TfLiteXNNPackDelegateDelete(TfLiteDelegate* delegate);
TFL_CAPI_EXPORT extern uint32_t TfLiteXNNPackDelegateGetFlags(TfLiteDelegate* delegate);
`

// newerOnly are optional symbols of later TFLite versions (checked against
// their xnnpack_delegate.h, not 2.9's); the shipped 2.9 libraries lack them.
var newerOnly = map[string]bool{"TfLiteXNNPackDelegateGetFlags": true}

// headerDir returns the unpacked TFLite C headers, skipping the test when
// they have not been fetched (outside CI).
func headerDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.Root(t), "third_party", "tflite", "include", "tensorflow", "lite", "c")
	if _, err := os.Stat(filepath.Join(dir, "c_api.h")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("TFLite headers: %v", err)
		}
		t.Skipf("TFLite headers not fetched (make tflite-lib): %v", err)
	}
	return dir
}

// preamble returns the C code of the binding's cgo preamble.
func preamble(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("tflite.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	end := strings.Index(s, "*/\nimport \"C\"")
	start := strings.LastIndex(s[:max(end, 0)], "/*")
	if start < 0 || end < 0 {
		t.Fatal("tflite.go: no cgo preamble before import \"C\"")
	}
	return s[start+2 : end]
}

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`//[^\n]*`)
	cToken       = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*|\.\.\.|[*(),;{}]`)
	exportDecl   = regexp.MustCompile(`TFL_CAPI_EXPORT\s+extern\s+([^;(]*?)\b(TfLite\w+)\s*\(`)
	apiMember    = regexp.MustCompile(`(?m)^\s*([^;()]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*)\)\s*;`)
	apiResolve   = regexp.MustCompile(`a->(\w+)\s*=\s*(?:edged_sym|dlsym)\(h,\s*"(\w+)"`)
)

func stripComments(s string) string {
	return lineComment.ReplaceAllString(blockComment.ReplaceAllString(s, " "), " ")
}

// typeAliases maps the headers' names to what the preamble declares in
// their place: enums returned as int (the C ABI passes an enum as an int),
// the quantization struct under edged's own name (its layout is checked
// separately) and the XNNPACK options as an opaque block. (The preamble's
// edged_reporter typedef is expanded by boundSymbols.)
var typeAliases = map[string]string{
	"TfLiteStatus":                 "int",
	"TfLiteType":                   "int",
	"TfLiteQuantizationParams":     "edged_quant",
	"TfLiteXNNPackDelegateOptions": "void",
}

// normType spells a C type in canonical tokens: aliases resolved,
// parameter names dropped (also inside function-pointer types) and an
// empty parameter list written as void.
func normType(s string) string {
	toks := cToken.FindAllString(s, -1)
	var out []string
	for _, tk := range toks {
		if a, ok := typeAliases[tk]; ok {
			out = append(out, cToken.FindAllString(a, -1)...)
			continue
		}
		out = append(out, tk)
	}
	return strings.Join(out, " ")
}

// splitParams splits a parameter list at its top-level commas.
func splitParams(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

var cTypeWords = map[string]bool{"const": true, "struct": true, "unsigned": true, "signed": true, "void": true,
	"char": true, "int": true, "float": true, "size_t": true, "int32_t": true, "uint32_t": true, "va_list": true}

// normParam canonicalises one parameter: a function-pointer parameter
// loses its own name and its parameters' names; a plain one loses the
// trailing identifier that names it.
func normParam(p string) string {
	p = strings.TrimSpace(p)
	if i := strings.Index(p, "(*"); i >= 0 || strings.Contains(p, "( *") {
		fp := regexp.MustCompile(`^(.*?)\(\s*\*\s*\w*\s*\)\s*\((.*)\)$`).FindStringSubmatch(p)
		if fp != nil {
			return normType(fp[1]) + " ( * ) ( " + normParams(fp[2]) + " )"
		}
	}
	toks := cToken.FindAllString(p, -1)
	if n := len(toks); n > 1 {
		last, prev := toks[n-1], toks[n-2]
		if !cTypeWords[last] && !strings.HasPrefix(last, "TfLite") && last != "*" && (prev == "*" || cToken.MatchString(prev)) {
			toks = toks[:n-1]
		}
	}
	return normType(strings.Join(toks, " "))
}

func normParams(s string) string {
	if strings.TrimSpace(s) == "" {
		return "void"
	}
	var ps []string
	for _, p := range splitParams(s) {
		ps = append(ps, normParam(p))
	}
	return strings.Join(ps, " , ")
}

// headerPrototypes returns "ret ( params )" in canonical tokens for every
// exported function of the headers.
func headerPrototypes(text string) map[string]string {
	text = stripComments(text)
	protos := map[string]string{}
	for _, m := range exportDecl.FindAllStringSubmatchIndex(text, -1) {
		ret, name := text[m[2]:m[3]], text[m[4]:m[5]]
		depth, i := 1, m[1]
		for ; i < len(text) && depth > 0; i++ {
			switch text[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		protos[name] = normType(ret) + " ( " + normParams(text[m[1]:i-1]) + " )"
	}
	return protos
}

// boundSymbols returns, for each function pointer of the preamble's
// edged_api, the symbol it is resolved from and its declared type.
func boundSymbols(t *testing.T, pre string) map[string]string {
	t.Helper()
	pre = stripComments(pre)
	body := regexp.MustCompile(`typedef struct \{([^{}]*)\} edged_api;`).FindStringSubmatch(pre)
	if body == nil {
		t.Fatal("preamble: no edged_api struct")
	}
	// The error reporter's type is a typedef: spell it out.
	rep := regexp.MustCompile(`typedef\s+([^;()]+?)\s*\(\s*\*\s*edged_reporter\s*\)\s*\(([^;]*)\)\s*;`).FindStringSubmatch(pre)
	if rep == nil {
		t.Fatal("preamble: no edged_reporter typedef")
	}
	members := regexp.MustCompile(`\bedged_reporter\b`).ReplaceAllString(body[1], rep[1]+" (*)("+rep[2]+")")
	types := map[string]string{}
	for _, m := range apiMember.FindAllStringSubmatch(members, -1) {
		types[m[2]] = normType(m[1]) + " ( " + normParams(m[3]) + " )"
	}
	bound := map[string]string{}
	for _, m := range apiResolve.FindAllStringSubmatch(pre, -1) {
		typ, ok := types[m[1]]
		if !ok {
			t.Errorf("preamble resolves %s into member %s, which edged_api does not declare", m[2], m[1])
			continue
		}
		bound[m[2]] = typ
		delete(types, m[1])
	}
	for member := range types {
		t.Errorf("edged_api member %s is never resolved with dlsym", member)
	}
	return bound
}

func TestPrototypesMatchHeaders(t *testing.T) {
	dir := headerDir(t)
	var text strings.Builder
	for _, h := range []string{"c_api.h", "c_api_types.h", "common.h"} {
		b, err := os.ReadFile(filepath.Join(dir, h))
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	text.WriteString(xnnpackPrototypes)
	want := headerPrototypes(text.String())
	if len(want) < 20 {
		t.Fatalf("found only %d exported functions in the headers: the parser no longer understands them", len(want))
	}
	bound := boundSymbols(t, preamble(t))
	if len(bound) < 20 {
		t.Fatalf("found only %d bound symbols in the preamble: the parser no longer understands it", len(bound))
	}
	for sym, got := range bound {
		w, ok := want[sym]
		switch {
		case !ok:
			t.Errorf("%s: not declared in the TFLite 2.9.0 headers", sym)
		case got != w:
			t.Errorf("%s: preamble declares %q, the headers %q", sym, got, w)
		}
	}
}

func TestQuantStructLayout(t *testing.T) {
	dir := headerDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "c_api_types.h"))
	if err != nil {
		t.Fatal(err)
	}
	body := func(src, name string) string {
		m := regexp.MustCompile(`(?s)typedef struct(?: \w+)? \{([^}]*)\} ` + name + `;`).FindStringSubmatch(stripComments(src))
		if m == nil {
			t.Fatalf("no struct %s", name)
		}
		return normType(m[1])
	}
	if got, want := body(preamble(t), "edged_quant"), body(string(b), "TfLiteQuantizationParams"); got != want {
		t.Errorf("edged_quant is {%s}, TfLiteQuantizationParams {%s}", got, want)
	}
}

// TestLibrariesExportSymbols checks the ELF dynamic symbol tables of both
// shipped libraries: every symbol the binding resolves must be a defined
// function, XNNPACK's included (the binding treats it as optional, but the
// shipped libraries are meant to have it).
func TestLibrariesExportSymbols(t *testing.T) {
	bound := boundSymbols(t, preamble(t))
	for _, arch := range []struct {
		dir     string
		machine elf.Machine
	}{{"linux_amd64", elf.EM_X86_64}, {"linux_arm64", elf.EM_AARCH64}} {
		t.Run(arch.dir, func(t *testing.T) {
			path := filepath.Join(testenv.Root(t), "third_party", "tflite", arch.dir, "libtensorflowlite_c.so")
			f, err := elf.Open(path)
			if err != nil {
				if os.IsNotExist(err) && os.Getenv("CI") == "" {
					t.Skipf("%v (make tflite-lib)", err)
				}
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != arch.machine {
				t.Errorf("%s is built for %v, want %v", path, f.Machine, arch.machine)
			}
			syms, err := f.DynamicSymbols()
			if err != nil {
				t.Fatal(err)
			}
			defined := map[string]bool{}
			for _, s := range syms {
				if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
					defined[s.Name] = true
				}
			}
			for sym := range bound {
				if !defined[sym] && !newerOnly[sym] {
					t.Errorf("%s does not export function %s", path, sym)
				}
			}
		})
	}
}
