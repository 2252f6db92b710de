package config

// Defaults: the `default` tags of the types, applied to what a file left
// out, and the defaults derived from other fields.

import (
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// applyDefaults fills fields that the file did not set from their
// `default` tags, recursively (list items too).
func applyDefaults(v reflect.Value, set map[string]bool) { fill(v, "", set) }

func fill(v reflect.Value, path string, set map[string]bool) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			p := join(path, f.Tag.Get("yaml"))
			if def, ok := f.Tag.Lookup("default"); ok && !set[p] {
				n := &yaml.Node{Kind: yaml.ScalarNode, Value: def, Tag: tagOf(v.Field(i))}
				if v.Field(i).Type() == reflect.TypeOf(time.Duration(0)) {
					dur, _ := time.ParseDuration(def)
					v.Field(i).SetInt(int64(dur))
				} else if err := setScalar(v.Field(i), n); err != nil {
					panic(fmt.Sprintf("config: bad default %q for %s: %v", def, p, err))
				}
			}
			fill(v.Field(i), p, set)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), set)
		}
	}
}

func tagOf(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Bool:
		return "!!bool"
	case reflect.Int:
		return "!!int"
	case reflect.Float64:
		return "!!float"
	default:
		return "!!str"
	}
}

// Defaults returns a configuration with every default applied and no
// cameras: the starting point of edged's quick mode.
func Defaults() *Config {
	c := &Config{Models: []Model{{}}}
	applyDefaults(reflect.ValueOf(c).Elem(), nil)
	return c
}

// NewCamera returns a camera with defaults applied.
func NewCamera(name, source string) Camera {
	c := Camera{Name: name, Source: source}
	applyDefaults(reflect.ValueOf(&c).Elem(), nil)
	return c
}

// NewRegion returns a region of cam with defaults applied: the camera's
// model and resize mode, every frame inferred.
func NewRegion(cam Camera, name string, roi Box) Region {
	r := Region{Name: name, ROI: roi, Model: cam.Model, Resize: cam.Resize}
	applyDefaults(reflect.ValueOf(&r).Elem(), nil)
	return r
}

// complete fills the defaults that depend on other fields: one model with
// every default when none is configured, and each camera's model, when it
// names none, the first one.
func (c *Config) complete() {
	if len(c.Models) == 0 {
		c.Models = []Model{{}}
		applyDefaults(reflect.ValueOf(&c.Models[0]).Elem(), nil)
	}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		if cam.Model == "" {
			cam.Model = c.Models[0].Name
		}
		for j := range cam.Regions {
			if cam.Regions[j].Model == "" {
				cam.Regions[j].Model = cam.Model
			}
			if cam.Regions[j].Resize == "" {
				cam.Regions[j].Resize = cam.Resize
			}
		}
	}
}
