package litert

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
// LiteRT's headers (the wheel ships none). These tests tie the declarations
// to the real C API without cgo: every function pointer in litert.go's
// preamble must match the prototype recorded below from litert/c/*.h at
// LiteRT's v2.2.0 tag, and both pinned libraries (amd64 and arm64, fetched
// by `make litert-lib`) must export every symbol the binding resolves.
//
// headerFacts maps each symbol to its v2.2.0 prototype, written as the
// function-pointer type the preamble must declare: enum parameters
// (LiteRtStatus, LiteRtTensorTypeId, LiteRtQuantizationTypeId,
// LiteRtHwAcceleratorSet, LiteRtTensorBufferLockMode, LiteRtElementType)
// are int-sized and appear as int; handle types keep their header names.
var headerFacts = map[string]string{
	// litert_environment.h
	"LiteRtCreateEnvironment":  "LiteRtStatus (int, const void*, LiteRtEnvironment*)", // options: const LiteRtEnvOption*
	"LiteRtDestroyEnvironment": "void (LiteRtEnvironment)",
	// litert_model.h (2.2.0: CreateModelFromBuffer takes the environment first)
	"LiteRtCreateModelFromBuffer":           "LiteRtStatus (LiteRtEnvironment, const void*, size_t, LiteRtModel*)",
	"LiteRtDestroyModel":                    "void (LiteRtModel)",
	"LiteRtGetNumModelSignatures":           "LiteRtStatus (LiteRtModel, LiteRtParamIndex*)",
	"LiteRtGetModelSignature":               "LiteRtStatus (LiteRtModel, LiteRtParamIndex, LiteRtSignature*)",
	"LiteRtGetNumSignatureInputs":           "LiteRtStatus (LiteRtSignature, LiteRtParamIndex*)",
	"LiteRtGetNumSignatureOutputs":          "LiteRtStatus (LiteRtSignature, LiteRtParamIndex*)",
	"LiteRtGetSignatureInputTensorByIndex":  "LiteRtStatus (LiteRtSignature, LiteRtParamIndex, LiteRtTensor*)",
	"LiteRtGetSignatureOutputTensorByIndex": "LiteRtStatus (LiteRtSignature, LiteRtParamIndex, LiteRtTensor*)",
	"LiteRtGetTensorName":                   "LiteRtStatus (LiteRtTensor, const char**)",
	"LiteRtGetTensorTypeId":                 "LiteRtStatus (LiteRtTensor, int*)",
	"LiteRtGetRankedTensorType":             "LiteRtStatus (LiteRtTensor, LiteRtRankedTensorType*)",
	"LiteRtGetQuantizationTypeId":           "LiteRtStatus (LiteRtTensor, int*)",
	"LiteRtGetPerTensorQuantization":        "LiteRtStatus (LiteRtTensor, LiteRtQuantizationPerTensor*)",
	// litert_options.h, litert_opaque_options.h
	"LiteRtCreateOptions":                  "LiteRtStatus (LiteRtOptions*)",
	"LiteRtDestroyOptions":                 "void (LiteRtOptions)",
	"LiteRtSetOptionsHardwareAccelerators": "LiteRtStatus (LiteRtOptions, int)",
	"LiteRtCreateOpaqueOptions":            "LiteRtStatus (const char*, void*, void (*)(void*), LiteRtOpaqueOptions*)",
	"LiteRtDestroyOpaqueOptions":           "void (LiteRtOpaqueOptions)",
	"LiteRtAddOpaqueOptions":               "LiteRtStatus (LiteRtOptions, LiteRtOpaqueOptions)",
	// litert_compiled_model.h
	"LiteRtCreateCompiledModel":                      "LiteRtStatus (LiteRtEnvironment, LiteRtModel, LiteRtOptions, LiteRtCompiledModel*)",
	"LiteRtDestroyCompiledModel":                     "void (LiteRtCompiledModel)",
	"LiteRtGetCompiledModelInputBufferRequirements":  "LiteRtStatus (LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*)",
	"LiteRtGetCompiledModelOutputBufferRequirements": "LiteRtStatus (LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*)",
	"LiteRtRunCompiledModel":                         "LiteRtStatus (LiteRtCompiledModel, LiteRtParamIndex, size_t, LiteRtTensorBuffer*, size_t, LiteRtTensorBuffer*)",
	// litert_tensor_buffer_requirements.h, litert_tensor_buffer.h
	"LiteRtGetTensorBufferRequirementsBufferSize":     "LiteRtStatus (LiteRtTensorBufferRequirements, size_t*)",
	"LiteRtCreateManagedTensorBufferFromRequirements": "LiteRtStatus (LiteRtEnvironment, const LiteRtRankedTensorType*, LiteRtTensorBufferRequirements, LiteRtTensorBuffer*)",
	"LiteRtDestroyTensorBuffer":                       "void (LiteRtTensorBuffer)",
	"LiteRtLockTensorBuffer":                          "LiteRtStatus (LiteRtTensorBuffer, void**, int)",
	"LiteRtUnlockTensorBuffer":                        "LiteRtStatus (LiteRtTensorBuffer)",
}

// declarations returns, from litert.go's preamble, each resolved symbol
// with the function-pointer type of the field it is stored in.
func declarations(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("litert.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	fields := map[string]string{} // field -> "ret (params)"
	fieldRE := regexp.MustCompile(`(?m)^\t([A-Za-z_][A-Za-z_ *]*?)\s*\(\*(\w+)\)\((.*)\);$`)
	for _, m := range fieldRE.FindAllStringSubmatch(s, -1) {
		fields[m[2]] = norm(m[1] + " (" + m[3] + ")")
	}
	out := map[string]string{}
	symRE := regexp.MustCompile(`SYM\((\w+), "(\w+)"\);`)
	for _, m := range symRE.FindAllStringSubmatch(s, -1) {
		decl, ok := fields[m[1]]
		if !ok {
			t.Fatalf("SYM(%s, %q): no such field in edged_lrt", m[1], m[2])
		}
		out[m[2]] = decl
	}
	if len(out) == 0 {
		t.Fatal("no SYM(...) lines found in litert.go")
	}
	return out
}

var spaceRE = regexp.MustCompile(`\s+`)

func norm(s string) string {
	s = spaceRE.ReplaceAllString(strings.TrimSpace(s), " ")
	s = strings.ReplaceAll(s, " *", "*")
	s = strings.ReplaceAll(s, "( ", "(")
	return s
}

func TestDeclarationsMatchHeaders(t *testing.T) {
	decls := declarations(t)
	for sym, decl := range decls {
		want, ok := headerFacts[sym]
		if !ok {
			t.Errorf("%s is resolved but has no recorded v2.2.0 prototype in headerFacts", sym)
			continue
		}
		if decl != norm(want) {
			t.Errorf("%s: declared %q, v2.2.0 header says %q", sym, decl, norm(want))
		}
	}
	for sym := range headerFacts {
		if _, ok := decls[sym]; !ok {
			t.Errorf("headerFacts lists %s, which the binding does not resolve", sym)
		}
	}
}

func TestLibrariesExportSymbols(t *testing.T) {
	decls := declarations(t)
	for _, arch := range []string{"amd64", "arm64"} {
		path := filepath.Join(testenv.Root(t), "third_party", "litert", "linux_"+arch, "libLiteRt.so")
		f, err := elf.Open(path)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("LiteRT library: %v", err)
			}
			t.Skipf("LiteRT library not fetched (make litert-lib): %v", err)
		}
		syms, err := f.DynamicSymbols()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		exported := map[string]bool{}
		for _, s := range syms {
			if s.Section != elf.SHN_UNDEF {
				exported[s.Name] = true
			}
		}
		for sym := range decls {
			if !exported[sym] {
				t.Errorf("%s does not export %s", path, sym)
			}
		}
	}
}
