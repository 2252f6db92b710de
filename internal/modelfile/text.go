package modelfile

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText describes the model for people (`edged model inspect`).
func (i *Info) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "TFLite model, schema %d, %d bytes, %d subgraph(s), %d tensors, %d buffers\n", i.Version, i.Size, i.Subgraphs, i.Tensors, i.Buffers)
	if i.ModelName != "" {
		fmt.Fprintf(&b, "name: %s\n", i.ModelName)
	}
	if i.Description != "" {
		fmt.Fprintf(&b, "description: %s\n", i.Description)
	}
	section := func(title string, ts []Tensor) {
		fmt.Fprintf(&b, "%s:\n", title)
		for k, t := range ts {
			fmt.Fprintf(&b, "  [%d] %-24s %-8s %v", k, t.Name, t.Type, t.Shape)
			switch {
			case t.PerAxis:
				fmt.Fprintf(&b, "  quantized per axis (%d scales)", len(t.Scale))
			case len(t.Scale) == 1 && t.Scale[0] != 0:
				zp := int64(0)
				if len(t.ZeroPoint) > 0 {
					zp = t.ZeroPoint[0]
				}
				fmt.Fprintf(&b, "  scale %g zero point %d", t.Scale[0], zp)
			}
			b.WriteByte('\n')
		}
	}
	section("inputs", i.Inputs)
	section("outputs", i.Outputs)
	if len(i.Labels) > 0 {
		show := i.Labels[:min(5, len(i.Labels))]
		fmt.Fprintf(&b, "labels: %d from metadata (%s): %s", len(i.Labels), i.LabelsFile, strings.Join(show, ", "))
		if len(i.Labels) > len(show) {
			b.WriteString(", ...")
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("labels: none in the model (give a labels file)\n")
	}
	if i.Float16 {
		b.WriteString("float16 tensors: yes\n")
	}
	if i.Sparse {
		b.WriteString("sparse tensors: yes\n")
	}
	if len(i.CustomOps) > 0 {
		fmt.Fprintf(&b, "custom ops: %s\n", strings.Join(i.CustomOps, ", "))
	}
	names := make([]string, 0, len(i.Ops))
	total := 0
	for n, c := range i.Ops {
		names = append(names, n)
		total += c
	}
	sort.Slice(names, func(a, c int) bool {
		if i.Ops[names[a]] != i.Ops[names[c]] {
			return i.Ops[names[a]] > i.Ops[names[c]]
		}
		return names[a] < names[c]
	})
	fmt.Fprintf(&b, "operators: %d\n", total)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-28s %d\n", n, i.Ops[n])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
