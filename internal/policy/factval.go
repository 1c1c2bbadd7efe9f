package policy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/mcpwarden/mcpwarden/internal/policy/destructive"
)

// factsValue exposes a destructive.Facts struct (or one of its nested structs) to CEL as a map keyed by the
// JSON field names, converting only the fields a rule reads. It behaves like the map Facts.AsMap returns
// (plus call.sql.kind), without building that map for every call.
type factsValue struct {
	v    reflect.Value // a struct
	info *structInfo
}

type structInfo struct {
	fields map[string]int // JSON name → field index
	keys   []string
	isSQL  bool
}

var structInfos sync.Map // reflect.Type → *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]int{}, isSQL: t == reflect.TypeFor[destructive.SQLFacts]()}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		si.fields[name] = i
		si.keys = append(si.keys, name)
	}
	if si.isSQL {
		si.keys = append(si.keys, "kind")
	}
	slices.Sort(si.keys)
	structInfos.Store(t, si)
	return si
}

func newFactsValue(f *destructive.Facts) *factsValue {
	v := reflect.ValueOf(f).Elem()
	return &factsValue{v: v, info: infoOf(v.Type())}
}

var (
	_ traits.Mapper = (*factsValue)(nil)
	_ ref.Val       = (*factsValue)(nil)
)

func (f *factsValue) field(key string) (ref.Val, bool) {
	if f.info.isSQL && key == "kind" {
		return types.String(sqlKind(f.v.Interface().(destructive.SQLFacts).Kinds)), true
	}
	i, ok := f.info.fields[key]
	if !ok {
		return nil, false
	}
	fv := f.v.Field(i)
	switch fv.Kind() {
	case reflect.Struct:
		return &factsValue{v: fv, info: infoOf(fv.Type())}, true
	case reflect.Bool:
		return types.Bool(fv.Bool()), true
	case reflect.String:
		return types.String(fv.String()), true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return types.Int(fv.Int()), true
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.String {
			s := fv.Interface().([]string)
			if s == nil {
				s = []string{}
			}
			return types.DefaultTypeAdapter.NativeToValue(s), true
		}
	}
	// Lists of structs and maps: through JSON, as AsMap does (nil lists become empty ones).
	b, err := json.Marshal(fv.Interface())
	if err != nil {
		return types.NewErr("facts: %v", err), true
	}
	var x any
	_ = json.Unmarshal(b, &x)
	if x == nil {
		if fv.Kind() == reflect.Map {
			x = map[string]any{}
		} else {
			x = []any{}
		}
	}
	return types.DefaultTypeAdapter.NativeToValue(normaliseJSON(x)), true
}

// normaliseJSON turns whole float64 numbers into int64, matching Facts.AsMap.
func normaliseJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = normaliseJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normaliseJSON(x[k])
		}
	}
	return v
}

func (f *factsValue) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.ValOrErr(key, "no such overload"), false
	}
	return f.field(string(k))
}

func (f *factsValue) Get(key ref.Val) ref.Val {
	v, found := f.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

func (f *factsValue) Contains(key ref.Val) ref.Val {
	v, found := f.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

func (f *factsValue) Size() ref.Val { return types.Int(len(f.info.keys)) }

func (f *factsValue) Iterator() traits.Iterator {
	return types.DefaultTypeAdapter.NativeToValue(f.info.keys).(traits.Lister).Iterator()
}

func (f *factsValue) native() map[string]any {
	b, _ := json.Marshal(f.v.Interface())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if f.info.isSQL {
		m["kind"] = sqlKind(f.v.Interface().(destructive.SQLFacts).Kinds)
	}
	return normaliseJSON(m).(map[string]any)
}

func (f *factsValue) ConvertToNative(t reflect.Type) (any, error) {
	return types.DefaultTypeAdapter.NativeToValue(f.native()).ConvertToNative(t)
}

func (f *factsValue) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	if t == types.MapType {
		return f
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

func (f *factsValue) Equal(other ref.Val) ref.Val {
	if o, ok := other.(*factsValue); ok && o.v == f.v {
		return types.True
	}
	return types.DefaultTypeAdapter.NativeToValue(f.native()).Equal(other)
}

func (f *factsValue) Type() ref.Type { return types.MapType }

func (f *factsValue) Value() any { return f.native() }

// sqlKind is the riskiest statement kind among kinds ("" when there is no SQL).
func sqlKind(kinds []string) string {
	for _, k := range sqlKindRank {
		if slices.Contains(kinds, k) {
			return k
		}
	}
	if len(kinds) > 0 {
		return kinds[0]
	}
	return ""
}
