package testutil

import (
	"fmt"
	"reflect"
)

// ZeroFields lists, by path, every field of v (a struct, or a pointer to
// one) that holds its zero value, looking into nested structs, pointers,
// slices and maps. A test whose fixture must set every field (so that a
// conversion that drops one fails) checks that this list is empty: a field
// added later and forgotten in the fixture then fails the test too.
func ZeroFields(v any) []string {
	var zero []string
	walkZero(reflect.ValueOf(v), "", &zero)
	return zero
}

func walkZero(v reflect.Value, path string, zero *[]string) {
	if !v.IsValid() || v.IsZero() {
		*zero = append(*zero, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		walkZero(v.Elem(), path, zero)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			walkZero(v.Field(i), p, zero)
		}
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			*zero = append(*zero, path)
		}
		for i := range v.Len() {
			walkZero(v.Index(i), fmt.Sprintf("%s[%d]", path, i), zero)
		}
	case reflect.Map:
		if v.Len() == 0 {
			*zero = append(*zero, path)
		}
	}
}
