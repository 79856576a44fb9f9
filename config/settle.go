package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// settler finishes a decoded File: for every key the file sets it
// substitutes ${VAR} references in strings and parses durations and sizes,
// and for every key it leaves out it applies the field's default tag.
// This is the only place defaults are applied.
type settler struct {
	pos    *positionIndex
	tree   map[string]any
	out    *problems
	lookup func(string) (string, bool)
}

func (s *settler) table(v reflect.Value, path []string) {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		fpath := appendPath(path, f.key)
		switch {
		case !isTable(f.typ):
			s.leaf(fv, f, fpath)
		case f.typ.Kind() == reflect.Struct:
			s.table(fv, fpath)
		case f.typ.Kind() == reflect.Map:
			iter := fv.MapRange()
			for iter.Next() {
				elem := reflect.New(f.typ.Elem()).Elem()
				elem.Set(iter.Value())
				s.table(elem, appendPath(fpath, iter.Key().String()))
				fv.SetMapIndex(iter.Key(), elem)
			}
		case f.typ.Kind() == reflect.Slice:
			for i := range fv.Len() {
				s.table(fv.Index(i), appendPath(fpath, strconv.Itoa(i)))
			}
		}
	}
}

func (s *settler) leaf(v reflect.Value, f field, path []string) {
	if !s.pos.defined(path) {
		if f.hasDef {
			if err := setDefault(v, f.def); err != nil {
				panic(fmt.Sprintf("config: default tag of %s: %v", strings.Join(path, "."), err))
			}
		}
		return
	}
	switch {
	case f.typ == durationType:
		d := v.Addr().Interface().(*Duration)
		d.raw = s.expand(d.raw, path)
		s.report(d.parse(), path)
	case f.typ == sizeType:
		size := v.Addr().Interface().(*Size)
		if size.isText {
			size.raw = s.expand(size.raw, path)
		}
		s.report(size.parse(), path)
	case f.typ == anyMapType:
		s.expandAny(v.Interface(), path)
	case f.typ.Kind() == reflect.String:
		v.SetString(s.expand(v.String(), path))
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		for i := range v.Len() {
			e := v.Index(i)
			e.SetString(s.expand(e.String(), appendPath(path, strconv.Itoa(i))))
		}
	}
}

func (s *settler) report(err error, path []string) {
	if err != nil {
		s.out.add(s.pos.nearest(path), "%s: %s %v", describeOwner(s.tree, path), describeKey(path), err)
		s.out.markFailed(path)
	}
}

func (s *settler) expand(value string, path []string) string {
	out, problems := expandEnv(value, s.lookup)
	for _, p := range problems {
		s.out.add(s.pos.nearest(path), "%s: %s: %s", describeOwner(s.tree, path), describeKey(path), p)
		s.out.markFailed(path)
	}
	return out
}

// expandAny substitutes references in every string inside a plugin's
// config table, which reaches the plugin as JSON.
func (s *settler) expandAny(v any, path []string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if str, ok := e.(string); ok {
				v[k] = s.expand(str, appendPath(path, k))
			} else {
				s.expandAny(e, appendPath(path, k))
			}
		}
	case []any:
		for i, e := range v {
			if str, ok := e.(string); ok {
				v[i] = s.expand(str, appendPath(path, strconv.Itoa(i)))
			} else {
				s.expandAny(e, appendPath(path, strconv.Itoa(i)))
			}
		}
	case []map[string]any:
		for i, e := range v {
			s.expandAny(e, appendPath(path, strconv.Itoa(i)))
		}
	}
}

// setDefault sets v from a default tag. Arrays of strings are written
// comma-separated in the tag.
func setDefault(v reflect.Value, def string) error {
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(def)
		v.Set(reflect.ValueOf(Duration{Duration: d, raw: def}))
		return err
	case v.Type() == sizeType:
		n, err := parseSize(def)
		v.Set(reflect.ValueOf(Size{Bytes: n, raw: def, isText: true}))
		return err
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(def)
	case reflect.Int:
		n, err := strconv.Atoi(def)
		v.SetInt(int64(n))
		return err
	case reflect.Float64:
		x, err := strconv.ParseFloat(def, 64)
		v.SetFloat(x)
		return err
	case reflect.Bool:
		b, err := strconv.ParseBool(def)
		v.SetBool(b)
		return err
	case reflect.Slice:
		v.Set(reflect.ValueOf(strings.Split(def, ",")))
	default:
		return fmt.Errorf("no default for type %s", v.Type())
	}
	return nil
}
