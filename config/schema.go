package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/megaflow/megaflow/internal/suggest"
)

// field is one key of a table, read from a struct field's tags.
type field struct {
	key   string
	index int
	typ   reflect.Type
	// def is the default tag; hasDef is false when the field has none.
	def    string
	hasDef bool
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
	anyMapType   = reflect.TypeFor[map[string]any]()
)

// fieldsOf returns the keys of the table that struct type t decodes.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		key, ok := sf.Tag.Lookup("toml")
		if !ok || !sf.IsExported() {
			continue
		}
		def, hasDef := sf.Tag.Lookup("default")
		out = append(out, field{key: key, index: i, typ: sf.Type, def: def, hasDef: hasDef})
	}
	return out
}

func fieldKeys(fields []field) []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// isTable reports whether values of t are TOML tables or arrays of tables
// whose keys the schema describes, as opposed to values set as a whole.
func isTable(t reflect.Type) bool {
	switch {
	case t == durationType || t == sizeType || t == anyMapType:
		return false
	case t.Kind() == reflect.Struct:
		return true
	case t.Kind() == reflect.Map || t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.Struct
	}
	return false
}

// typeName describes the TOML type of a key of Go type t, as the
// documentation and error messages write it.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == sizeType:
		return "size"
	case t == anyMapType:
		return "table"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "float"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct:
		return "table"
	case reflect.Map:
		if t.Elem().Kind() == reflect.Slice {
			return "table of arrays of strings"
		}
		return "tables"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "array of tables"
		}
		return "array of strings"
	}
	return t.String()
}

// typeChecker checks a decoded TOML tree against the structs, reporting
// every unknown key and wrong type with its position.
type typeChecker struct {
	pos  *positionIndex
	tree map[string]any
	out  *problems
	// typeErrors counts wrong types, which stop Load before the structs
	// are decoded. Unknown keys do not: BurntSushi/toml skips them.
	typeErrors int
}

func (c *typeChecker) check(v any, t reflect.Type, path []string) {
	switch {
	case t == durationType:
		c.checkDuration(v, path)
	case t == sizeType:
		if _, isInt := v.(int64); !isInt {
			c.expect(v, "string", path, `an integer number of bytes or a string such as "16MiB"`)
		}
	case t == anyMapType:
		c.expect(v, "table", path, "a table")
	case t.Kind() == reflect.Struct:
		if m, ok := c.asTable(v, path); ok {
			c.checkTable(m, t, path)
		}
	case t.Kind() == reflect.Map:
		if m, ok := c.asTable(v, path); ok {
			for _, name := range sortedKeys(m) {
				c.check(m[name], t.Elem(), appendPath(path, name))
			}
		}
	case t.Kind() == reflect.Slice:
		c.checkArray(v, t, path)
	case t.Kind() == reflect.String:
		c.expect(v, "string", path, "a string")
	case t.Kind() == reflect.Bool:
		c.expect(v, "boolean", path, "true or false")
	case t.Kind() == reflect.Int:
		c.checkInt(v, path)
	case t.Kind() == reflect.Float64:
		switch v.(type) {
		case float64, int64:
		default:
			c.wrongType(v, path, "a number")
		}
	}
}

func (c *typeChecker) asTable(v any, path []string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.wrongType(v, path, "a table")
	}
	return m, ok
}

func (c *typeChecker) checkTable(m map[string]any, t reflect.Type, path []string) {
	fields := fieldsOf(t)
	keys := fieldKeys(fields)
	for _, key := range sortedKeys(m) {
		i := slices.Index(keys, key)
		if i < 0 {
			c.unknownKey(key, keys, path)
			continue
		}
		c.check(m[key], fields[i].typ, appendPath(path, key))
	}
}

func (c *typeChecker) checkArray(v any, t reflect.Type, path []string) {
	var elems []any
	switch v := v.(type) {
	case []any:
		elems = v
	case []map[string]any:
		for _, m := range v {
			elems = append(elems, m)
		}
	default:
		if t.Elem().Kind() == reflect.Struct {
			c.wrongType(v, path, "an array of tables, written [["+strings.Join(path, ".")+"]]")
		} else {
			c.wrongType(v, path, `an array of strings, such as ["a", "b"]`)
		}
		return
	}
	for i, e := range elems {
		c.check(e, t.Elem(), appendPath(path, strconv.Itoa(i)))
	}
}

func (c *typeChecker) checkDuration(v any, path []string) {
	switch v := v.(type) {
	case string:
	case int64:
		c.typeErrors++
		c.out.add(c.pos.nearest(path), "%s: %s must be a string with a unit; write \"%ds\"", describeOwner(c.tree, path), describeKey(path), v)
	default:
		c.wrongType(v, path, `a string with a unit, such as "2s"`)
	}
}

func (c *typeChecker) checkInt(v any, path []string) {
	n, ok := v.(int64)
	if !ok {
		c.wrongType(v, path, "an integer")
		return
	}
	if n > math.MaxInt32 || n < math.MinInt32 {
		c.typeErrors++
		c.out.add(c.pos.nearest(path), "%s: %s is %d, out of range; the limit is %d", describeOwner(c.tree, path), describeKey(path), n, math.MaxInt32)
	}
}

// expect reports a wrong type unless v has the TOML type want.
func (c *typeChecker) expect(v any, want string, path []string, wantText string) {
	if tomlTypeOf(v) != want {
		c.wrongType(v, path, wantText)
	}
}

func (c *typeChecker) wrongType(v any, path []string, want string) {
	c.typeErrors++
	if len(path) == 1 {
		c.out.add(c.pos.nearest(path), "%s must be %s, not %s", path[0], want, describeValue(v))
		return
	}
	c.out.add(c.pos.nearest(path), "%s: %s must be %s, not %s", describeOwner(c.tree, path), describeKey(path), want, describeValue(v))
}

func (c *typeChecker) unknownKey(key string, known []string, path []string) {
	at := c.pos.nearest(appendPath(path, key))
	hint := suggestion(key, known)
	if len(path) == 0 {
		if best := strings.Trim(strings.TrimPrefix(hint, "; did you mean "), `"?`); best != "" {
			hint = "; did you mean [" + best + "]?"
		} else {
			hint = "; the top-level tables are [" + strings.Join(known, "], [") + "]"
		}
		c.out.add(at, "unknown table [%s]%s", key, hint)
		return
	}
	if hint == "" {
		hint = "; valid keys are " + strings.Join(known, ", ")
	}
	c.out.add(at, "%s: unknown key %q%s", describeOwner(c.tree, appendPath(path, key)), key, hint)
}

// tomlTypeOf names the TOML type of a value decoded by BurntSushi/toml.
func tomlTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []any, []map[string]any:
		return "array"
	case time.Time:
		return "datetime"
	}
	return "date or time"
}

func describeValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64, float64, bool:
		return fmt.Sprintf("the %s %v", tomlTypeOf(v), v)
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return "a " + tomlTypeOf(v)
}

// describeOwner names what a key belongs to, as messages start:
// `service "llm"`, `flow "chatqna" node "rerank"`, `route "/v1/chatqna"`.
func describeOwner(tree map[string]any, path []string) string {
	if len(path) <= 1 {
		return "file"
	}
	top := path[0]
	switch {
	case top == "services" && len(path) > 2:
		return fmt.Sprintf("service %q", path[1])
	case top == "plugins" && len(path) > 2:
		return fmt.Sprintf("plugin %q", path[1])
	case top == "flows" && len(path) > 4 && path[2] == "nodes":
		i, _ := strconv.Atoi(path[3])
		return nodeLabel(path[1], i, treeNode(tree, path[1], i))
	case top == "flows" && len(path) > 2:
		return fmt.Sprintf("flow %q", path[1])
	case top == "routes" && len(path) > 2:
		i, _ := strconv.Atoi(path[1])
		return routeLabel(i, treeString(treeArrayElem(tree, "routes", i), "path"))
	}
	return top
}

// describeKey writes the part of path below its owner, such as "timeout",
// "breaker.open_timeout" or "after[1]".
func describeKey(path []string) string {
	skip := 1
	switch {
	case len(path) > 4 && path[0] == "flows" && path[2] == "nodes":
		skip = 4
	case len(path) > 2 && (path[0] == "services" || path[0] == "plugins" || path[0] == "flows" || path[0] == "routes"):
		skip = 2
	case len(path) == 1:
		skip = 0
	}
	var b strings.Builder
	for _, p := range path[skip:] {
		if _, err := strconv.Atoi(p); err == nil && b.Len() > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// nodeLabel names node i (from 0) of a flow by its name or service when it
// has one, else by its number.
func nodeLabel(flow string, i int, n Node) string {
	if name := n.NodeName(); name != "" {
		return fmt.Sprintf("flow %q node %q", flow, name)
	}
	return fmt.Sprintf("flow %q node %d", flow, i+1)
}

// routeLabel names route i (from 0) by its path when it has one.
func routeLabel(i int, path string) string {
	if path != "" {
		return fmt.Sprintf("route %q", path)
	}
	return fmt.Sprintf("route %d", i+1)
}

func treeArrayElem(tree map[string]any, keys ...any) map[string]any {
	var cur any = tree
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := cur.(map[string]any)
			cur = m[k]
		case int:
			switch arr := cur.(type) {
			case []map[string]any:
				if k < len(arr) {
					cur = arr[k]
				} else {
					cur = nil
				}
			case []any:
				if k < len(arr) {
					cur = arr[k]
				} else {
					cur = nil
				}
			default:
				cur = nil
			}
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

func treeString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func treeNode(tree map[string]any, flow string, i int) Node {
	m := treeArrayElem(tree, "flows", flow, "nodes", i)
	return Node{Name: treeString(m, "name"), Service: treeString(m, "service")}
}

func appendPath(path []string, keys ...string) []string {
	return append(append(make([]string, 0, len(path)+len(keys)), path...), keys...)
}

// suggestion returns `; did you mean "x"?` for a likely typo of a known
// name, and "" otherwise.
func suggestion(name string, known []string) string { return suggest.Hint(name, known) }
